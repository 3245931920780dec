import type { DatasourceResource, DatasourceSelector, GlobalDatasourceResource } from '@perses-dev/core';
import type { DatasourceApi } from '@perses-dev/dashboards';
import type { QuerySource } from './api.js';

/**
 * The one datasource of the viewer: Prometheus behind the viewer's own `/api/v1` proxy. The
 * Prometheus plugin appends `/api/v1/...` to `directUrl`, so the page's origin is the URL; the
 * browser never talks to Prometheus itself (no CORS, Prometheus stays on loopback). The proxy
 * routes each query by its time range to Prometheus or the long-term store, unless the user
 * picked one: then `/source/<picked>` goes before `/api/v1`.
 */
export function prometheusDatasource(scrapeInterval: string, source: QuerySource = 'auto'): GlobalDatasourceResource {
  const directUrl = source === 'auto' ? window.location.origin : `${window.location.origin}/source/${source}`;
  return {
    kind: 'GlobalDatasource',
    metadata: { name: 'prometheus' },
    spec: {
      default: true,
      display: { name: 'Prometheus' },
      // The scrape interval is the minimum step, from which Perses derives $__rate_interval.
      plugin: { kind: 'PrometheusDatasource', spec: { directUrl, scrapeInterval } },
    },
  };
}

export class ViewerDatasourceApi implements DatasourceApi {
  constructor(private readonly prometheus: GlobalDatasourceResource) {}

  async getDatasource(_project: string, _selector: DatasourceSelector): Promise<DatasourceResource | undefined> {
    return undefined;
  }

  async getGlobalDatasource(selector: DatasourceSelector): Promise<GlobalDatasourceResource | undefined> {
    const matches =
      selector.kind === this.prometheus.spec.plugin.kind && (!selector.name || selector.name === this.prometheus.metadata.name);
    return matches ? this.prometheus : undefined;
  }

  async listDatasources(): Promise<DatasourceResource[]> {
    return [];
  }

  async listGlobalDatasources(pluginKind?: string): Promise<GlobalDatasourceResource[]> {
    return !pluginKind || pluginKind === this.prometheus.spec.plugin.kind ? [this.prometheus] : [];
  }
}

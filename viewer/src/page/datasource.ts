import type { DatasourceResource, DatasourceSelector, GlobalDatasourceResource } from '@perses-dev/core';
import type { DatasourceApi } from '@perses-dev/dashboards';

/**
 * The one datasource of the viewer: Prometheus behind the viewer's own `/api/v1` proxy. The
 * Prometheus plugin appends `/api/v1/...` to `directUrl`, so the page's origin is the URL; the
 * browser never talks to Prometheus itself (no CORS, Prometheus stays on loopback).
 */
export function prometheusDatasource(scrapeInterval: string): GlobalDatasourceResource {
  return {
    kind: 'GlobalDatasource',
    metadata: { name: 'prometheus' },
    spec: {
      default: true,
      display: { name: 'Prometheus' },
      // The scrape interval is the minimum step, from which Perses derives $__rate_interval.
      plugin: { kind: 'PrometheusDatasource', spec: { directUrl: window.location.origin, scrapeInterval } },
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

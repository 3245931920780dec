import type { DashboardResource } from '@perses-dev/core';

/** What the viewer's server tells the page (see server/app.ts). */
export interface ViewerConfig {
  readonly prometheusUrl: string;
  readonly scrapeInterval: string;
  /** Set when a long-term store answers the queries reading further back than `longTermAfterSeconds`. */
  readonly longTermUrl?: string;
  readonly longTermAfterSeconds?: number;
}

/** Where the panels' queries go: routed by time range (auto), or to the backend a user picked. */
export type QuerySource = 'auto' | 'prometheus' | 'long-term';

/** The `?source=` of the page's URL; auto when absent, unknown, or naming a store that is not configured. */
export function querySourceOf(search: string, config: ViewerConfig): QuerySource {
  const source = new URLSearchParams(search).get('source');
  if (source === 'prometheus' || (source === 'long-term' && config.longTermUrl)) return source;
  return 'auto';
}

export interface DashboardSummary {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export const fetchConfig = (): Promise<ViewerConfig> => getJson('/viewer/config');
export const fetchDashboards = (): Promise<DashboardSummary[]> => getJson('/viewer/dashboards');
export const fetchDashboard = (uid: string): Promise<DashboardResource> => getJson(`/viewer/dashboards/${encodeURIComponent(uid)}`);

/** Undefined when Prometheus answers through the proxy, else why not. */
export async function prometheusProblem(): Promise<string | undefined> {
  try {
    const response = await fetch('/api/v1/status/buildinfo');
    if (response.ok) return undefined;
    const body = (await response.json().catch(() => ({}))) as { error?: string };
    return body.error ?? `HTTP ${response.status}`;
  } catch (error) {
    return String(error);
  }
}

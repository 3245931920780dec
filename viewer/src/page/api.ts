import type { DashboardResource } from '@perses-dev/core';

/** What the viewer's server tells the page (see server/app.ts). */
export interface ViewerConfig {
  readonly prometheusUrl: string;
  readonly scrapeInterval: string;
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

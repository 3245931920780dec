import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** A Perses dashboard file as the emitter of @obsnest/monitoring writes it. */
export interface PersesDashboard {
  readonly kind: 'Dashboard';
  readonly metadata: { readonly name: string; readonly project?: string };
  readonly spec: { readonly display?: { readonly name?: string; readonly description?: string } } & Record<string, unknown>;
}

export interface DashboardSummary {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
}

/** The committed Perses dashboards of the monitoring package (`perses/dashboards/*.json` in it). */
export function defaultDashboardsDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@obsnest/monitoring/package.json')), 'perses', 'dashboards');
}

/** Every `*.json` Perses dashboard of `dir`, in file name order; refuses a file that is not one. */
export function loadDashboards(dir: string): PersesDashboard[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const parsed = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Partial<PersesDashboard>;
      if (parsed.kind !== 'Dashboard' || !parsed.metadata?.name || !parsed.spec) {
        throw new Error(`${join(dir, file)} is not a Perses dashboard (kind Dashboard with metadata.name and spec)`);
      }
      return parsed as PersesDashboard;
    });
}

export function summaryOf(dashboard: PersesDashboard): DashboardSummary {
  return {
    uid: dashboard.metadata.name,
    title: dashboard.spec.display?.name ?? dashboard.metadata.name,
    description: dashboard.spec.display?.description ?? '',
  };
}

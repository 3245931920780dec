import type { Dashboard, Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard';
import type { MixinConfig } from '../../src/config.js';
import { infrastructureDashboard } from './dashboards/infrastructure.js';
import { nestjsBackendDashboard } from './dashboards/nestjs-backend.js';
import { sloAlertsDashboard } from './dashboards/slo-alerts.js';

/** Every generated dashboard and the file it is written to under monitoring/grafana/dashboards. */
export interface DashboardSpec {
  readonly file: string;
  /** Builds the dashboard for a config (the default config when none is given). */
  readonly build: (config?: MixinConfig) => Dashboard;
}

export const DASHBOARDS: readonly DashboardSpec[] = [
  { file: 'nestjs-backend.json', build: nestjsBackendDashboard },
  { file: 'infrastructure.json', build: infrastructureDashboard },
  { file: 'slo-alerts.json', build: sloAlertsDashboard },
];

export function isRow(panel: Panel | RowPanel): panel is RowPanel {
  return panel.type === 'row';
}

/** Panels of a dashboard in display order, rows left out (with the panels of collapsed rows). */
export function panelsOf(dashboard: Dashboard): Panel[] {
  return (dashboard.panels ?? []).flatMap((panel) => (isRow(panel) ? (panel.panels ?? []) : [panel]));
}

/** Objects with keys sorted, recursively: the JSON stays diff-friendly whatever the SDK's order. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/**
 * The JSON file content of a dashboard: panel ids numbered in display order (stable links to
 * panels), `style: dark` as the seed dashboard had it (Grafana 7+ takes the theme from the user's
 * preferences, set to dark by default in docker-compose.yml), keys sorted, trailing newline.
 */
export function renderDashboard(dashboard: Dashboard): string {
  let id = 0;
  const panels = (dashboard.panels ?? []).map((panel) => {
    const numbered = { ...panel, id: ++id };
    if (isRow(panel) && panel.panels) {
      (numbered as RowPanel).panels = panel.panels.map((inner) => ({ ...inner, id: ++id }));
    }
    return numbered;
  });
  return `${JSON.stringify(sortKeys({ ...dashboard, panels, style: 'dark' }), null, 2)}\n`;
}

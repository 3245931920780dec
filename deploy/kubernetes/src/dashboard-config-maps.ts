/**
 * Grafana dashboards as ConfigMaps for the Grafana sidecar (k8s-sidecar, as in the Grafana Helm
 * chart and kube-prometheus-stack), which loads every ConfigMap carrying its label.
 */

export const GRAFANA_DASHBOARD_LABEL = { grafana_dashboard: '1' } as const;

export interface DashboardConfigMapOptions {
  /** ConfigMap name: `grafana-dashboard-<name>`. */
  readonly name: string;
  /** The file name Grafana's sidecar writes the dashboard to, e.g. `nestjs-backend.json`. */
  readonly file: string;
  /** The dashboard JSON text, kept byte for byte. */
  readonly json: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Read by the sidecar when it runs with `folderAnnotation: grafana_folder`. */
  readonly folder?: string;
}

export interface ConfigMapObject {
  readonly apiVersion: 'v1';
  readonly kind: 'ConfigMap';
  readonly metadata: { readonly name: string; readonly labels: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly data: Record<string, string>;
}

export function dashboardConfigMap(options: DashboardConfigMapOptions): ConfigMapObject {
  // Fails here rather than in Grafana, where a broken dashboard is only a log line of the sidecar.
  JSON.parse(options.json);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: `grafana-dashboard-${options.name}`,
      labels: { ...options.labels, ...GRAFANA_DASHBOARD_LABEL },
      ...(options.folder === undefined ? {} : { annotations: { grafana_folder: options.folder } }),
    },
    data: { [options.file]: options.json },
  };
}

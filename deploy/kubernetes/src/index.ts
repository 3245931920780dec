export {
  type ConfigMapObject,
  type DashboardConfigMapOptions,
  dashboardConfigMap,
  GRAFANA_DASHBOARD_LABEL,
} from './dashboard-config-maps.js';
export {
  type PrometheusRuleEntry,
  type PrometheusRuleGroup,
  type PrometheusRuleObject,
  type PrometheusRuleOptions,
  prometheusRule,
} from '@obsnest/monitoring/prometheus-rule';
export { readRuleGroups } from './rule-files.js';
export { dashboardsYaml, PROMETHEUS_RULE_FILE, DASHBOARDS_FILE, prometheusRules, prometheusRulesYaml } from './generated-files.js';

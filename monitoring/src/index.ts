/**
 * @obsnest/monitoring: the monitoring mixin of @obsnest/observability as a library. The CLI
 * (`obsnest-monitoring generate`) is the usual entry; these exports let a build script generate
 * the same files, or build extension rules and panels with the mixin's own builders.
 */
export {
  type AlertRouting,
  type BurnRateCondition,
  contextOf,
  DEFAULT_CONFIG,
  defineConfig,
  durationSeconds,
  type GrafanaSettings,
  type Infrastructure,
  type MetricDefinitionLike,
  type MixinConfig,
  type MixinConfigInput,
  type MixinContext,
  type MixinExtension,
  type Objectives,
  type Receiver,
  type RouteTiming,
  runbookUrl,
  type Severity,
  type Thresholds,
  type Windows,
} from './config.js';
export { checkFiles, type DriftReport, generateFiles, isUpToDate, OUTPUT_PATHS, type RuleSet, ruleSet, writeFiles } from './generate.js';
export {
  PROMETHEUS_RULES_PATH,
  type PrometheusRulesOptions,
  prometheusRules,
  prometheusRulesFile,
  type RuleFileGroups,
  renderManifests,
  ruleFileGroups,
} from './kubernetes.js';
export {
  type PrometheusRuleEntry,
  type PrometheusRuleGroup,
  type PrometheusRuleObject,
  type PrometheusRuleOptions,
  prometheusRule,
} from './prometheus-rule.js';
export type { AlertDefinition, RecordingDefinition, RuleDefinition, RuleGroup } from './rules/model.js';
export * as promql from '../grafana/src/promql.js';
export * as panels from '../grafana/src/panels.js';
export { PANEL_TARGET, applicationMetricPanel } from '../grafana/src/dashboards/application-metrics.js';

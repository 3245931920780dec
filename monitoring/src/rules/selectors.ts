import { METRICS, NODE_RUNTIME_METRICS } from '@obsnest/observability/contract';
import type { MixinConfig } from '../config.js';
import { eq, selector } from '../../grafana/src/promql.js';

/** Series selectors scoped to the configured job, and the library's metric names to select. */
export interface Selector {
  readonly job: string;
  readonly jobMatcher: string;
  /** `metric{job="<job>", ...matchers}`. */
  readonly app: (metric: string, ...matchers: string[]) => string;
  readonly metrics: typeof METRICS;
  readonly runtime: typeof NODE_RUNTIME_METRICS;
}

export function selectorsOf(config: MixinConfig): Selector {
  const jobMatcher = eq('job', config.job);
  return {
    job: config.job,
    jobMatcher,
    app: (metric, ...matchers) => selector(metric, [jobMatcher, ...matchers]),
    metrics: METRICS,
    runtime: NODE_RUNTIME_METRICS,
  };
}

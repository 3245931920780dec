import { type BurnRateCondition, DEFAULT_CONFIG, durationSeconds, type MixinConfig } from '../../src/config.js';
import { errorRatio, RATE_WINDOW, type SliWindow, slowRequestRatio } from './recording-rules.js';

/**
 * The service level objectives of the configured job, as the rules and the dashboards use them.
 * The numbers live in the mixin's config (monitoring/src/config.ts).
 */
export interface Slo {
  readonly title: string;
  /** What makes one request good, in words. */
  readonly goodRequest: string;
  /** Share of good requests the SLO promises over the period. */
  readonly objective: number;
  /** Recording rule holding the share of bad requests over a window. */
  readonly badRatio: (window: SliWindow) => string;
  /** The multi-window, multi-burn-rate alert guarding the SLO. */
  readonly burnRateAlert: string;
}

export type { BurnRateCondition };

export function availabilitySlo(config: MixinConfig = DEFAULT_CONFIG): Slo {
  return {
    title: 'Availability',
    goodRequest: 'answered without a 5xx status',
    objective: config.objectives.availability.objective,
    badRatio: errorRatio,
    burnRateAlert: 'ApiErrorBudgetBurn',
  };
}

export function latencySlo(config: MixinConfig = DEFAULT_CONFIG): Slo {
  return {
    title: 'Latency',
    goodRequest: `answered within ${config.objectives.latency.thresholdSeconds} s`,
    objective: config.objectives.latency.objective,
    badRatio: slowRequestRatio,
    burnRateAlert: 'ApiLatencyBudgetBurn',
  };
}

export const slos = (config: MixinConfig = DEFAULT_CONFIG): readonly Slo[] => [availabilitySlo(config), latencySlo(config)];

/** Share of requests allowed to be bad, as it appears in PromQL (0.001, not 0.0010000000000000009). */
export function errorBudget(slo: Slo): number {
  return Number((1 - slo.objective).toPrecision(12));
}

/**
 * Every window an SLO indicator is recorded over, shortest first: the rate window, both windows
 * of every burn-rate condition, and the SLO period.
 */
export function sliWindows(config: MixinConfig = DEFAULT_CONFIG): SliWindow[] {
  const { burnRates, period } = config.objectives;
  const windows = new Set([RATE_WINDOW, ...burnRates.flatMap((condition) => [condition.longWindow, condition.shortWindow]), period]);
  return [...windows].sort((a, b) => durationSeconds(a) - durationSeconds(b));
}

/** Always-firing heartbeat alert; dashboards listing firing alerts leave it out. */
export const WATCHDOG_ALERT = 'Watchdog';

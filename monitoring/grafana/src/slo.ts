import { errorRatio, type SliWindow, slowRequestRatio } from './recording-rules.js';

/**
 * The API's service level objectives, as the dashboards present them. The rule files encode the
 * same numbers; the test suite checks that both agree.
 */
export interface Slo {
  readonly title: string;
  /** What makes one request good, in words. */
  readonly goodRequest: string;
  /** Share of good requests the SLO promises over the period. */
  readonly objective: number;
  /** Recording rule holding the share of bad requests over a window. */
  readonly badRatio: (window: SliWindow) => string;
}

/** Length of the SLO period, and the window of the error-budget panels. */
export const SLO_PERIOD: SliWindow = '30d';

/** Latency bound of the latency SLO, in seconds; it is a bucket bound of the HTTP histogram. */
export const LATENCY_SLO_THRESHOLD_SECONDS = 0.5;

export const AVAILABILITY_SLO: Slo = {
  title: 'Availability',
  goodRequest: 'answered without a 5xx status',
  objective: 0.999,
  badRatio: errorRatio,
};

export const LATENCY_SLO: Slo = {
  title: 'Latency',
  goodRequest: `answered within ${LATENCY_SLO_THRESHOLD_SECONDS} s`,
  objective: 0.99,
  badRatio: slowRequestRatio,
};

export const SLOS: readonly Slo[] = [AVAILABILITY_SLO, LATENCY_SLO];

/** Share of requests allowed to be bad, as it appears in PromQL (0.001, not 0.0010000000000000009). */
export function errorBudget(slo: Slo): number {
  return Number((1 - slo.objective).toPrecision(12));
}

/**
 * The multi-window, multi-burn-rate alert conditions (Google SRE workbook): an alert fires when
 * both windows burn faster than `burnRate`.
 */
export interface BurnRateCondition {
  readonly longWindow: SliWindow;
  readonly shortWindow: SliWindow;
  readonly burnRate: number;
  readonly severity: 'critical' | 'warning';
}

export const BURN_RATE_CONDITIONS: readonly BurnRateCondition[] = [
  { longWindow: '1h', shortWindow: '5m', burnRate: 14.4, severity: 'critical' },
  { longWindow: '6h', shortWindow: '30m', burnRate: 6, severity: 'critical' },
  { longWindow: '1d', shortWindow: '2h', burnRate: 3, severity: 'warning' },
  { longWindow: '3d', shortWindow: '6h', burnRate: 1, severity: 'warning' },
];

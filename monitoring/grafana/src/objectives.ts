import { errorRatio, type SliWindow, slowRequestRatio } from './recording-rules.js';

/**
 * The API's service level objectives and the alert thresholds the dashboards draw. The rule files
 * encode the same numbers; the test suite checks that both agree.
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

/** Length of the SLO period, and the window of the error-budget panels. */
export const SLO_PERIOD: SliWindow = '30d';

/** Latency bound of the latency SLO, in seconds; it is a bucket bound of the HTTP histogram. */
export const LATENCY_SLO_THRESHOLD_SECONDS = 0.5;

export const AVAILABILITY_SLO: Slo = {
  title: 'Availability',
  goodRequest: 'answered without a 5xx status',
  objective: 0.999,
  badRatio: errorRatio,
  burnRateAlert: 'ApiErrorBudgetBurn',
};

export const LATENCY_SLO: Slo = {
  title: 'Latency',
  goodRequest: `answered within ${LATENCY_SLO_THRESHOLD_SECONDS} s`,
  objective: 0.99,
  badRatio: slowRequestRatio,
  burnRateAlert: 'ApiLatencyBudgetBurn',
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

/** An alert's comparison threshold, for dashboards to draw the same limit. */
export interface AlertThreshold {
  readonly alert: string;
  readonly severity: 'critical' | 'warning';
  readonly value: number;
}

/** Thresholds of the alerts in alerts.yml that the dashboards draw as limits. */
export const ALERT_THRESHOLDS = {
  /** Share of requests answered 5xx. */
  errorRatio: { alert: 'ApiHighErrorRatio', severity: 'warning', value: 0.05 },
  /** p95 request duration, seconds: a bucket bound of the HTTP histogram, so p95 is exact there. */
  latencyP95Seconds: { alert: 'ApiLatencyP95High', severity: 'warning', value: 0.25 },
  /** p99 event loop delay, seconds. */
  eventLoopLagSeconds: { alert: 'NodejsEventLoopLagHigh', severity: 'warning', value: 0.2 },
  /** V8 heap used / heap limit. */
  heapUsedRatioWarning: { alert: 'NodejsHeapNearLimit', severity: 'warning', value: 0.85 },
  heapUsedRatioCritical: { alert: 'NodejsHeapNearLimit', severity: 'critical', value: 0.95 },
  /** Age of the oldest outbox message not yet relayed, seconds. */
  outboxOldestAgeSeconds: { alert: 'OutboxRelayStalled', severity: 'warning', value: 300 },
  /** Share of a file system still free. */
  diskFreeRatioWarning: { alert: 'HostDiskSpaceLow', severity: 'warning', value: 0.1 },
  diskFreeRatioCritical: { alert: 'HostDiskSpaceLow', severity: 'critical', value: 0.05 },
  /** Share of memory still available. */
  memoryAvailableRatioWarning: { alert: 'HostMemoryLow', severity: 'warning', value: 0.1 },
  memoryAvailableRatioCritical: { alert: 'HostMemoryLow', severity: 'critical', value: 0.05 },
} as const satisfies Record<string, AlertThreshold>;

/** Always-firing heartbeat alert; dashboards listing firing alerts leave it out. */
export const WATCHDOG_ALERT = 'Watchdog';

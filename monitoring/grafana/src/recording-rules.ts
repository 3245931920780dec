/**
 * Names of the recording rules in monitoring/prometheus/rules/recording.yml: the one place
 * TypeScript spells them. A test checks that this list and the rule file name exactly the same
 * rules, and that every name a dashboard queries is one of them.
 */

/** Windows of the SLO indicators: those the burn-rate alerts read, plus the 30-day SLO period. */
export const SLI_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'] as const;
export type SliWindow = (typeof SLI_WINDOWS)[number];

export const RECORDING_RULES = {
  routeRequestRate: 'job_route:http_requests:rate5m',
  requestErrorRatio: 'job:http_request_errors:ratio_rate5m',
  routeDurationBucketRate: 'job_route_le:http_request_duration_seconds_bucket:rate5m',
  durationBucketRate: 'job_le:http_request_duration_seconds_bucket:rate5m',
  routeDurationP50: 'job_route:http_request_duration_seconds:p50_5m',
  routeDurationP95: 'job_route:http_request_duration_seconds:p95_5m',
  routeDurationP99: 'job_route:http_request_duration_seconds:p99_5m',
  durationP50: 'job:http_request_duration_seconds:p50_5m',
  durationP95: 'job:http_request_duration_seconds:p95_5m',
  durationP99: 'job:http_request_duration_seconds:p99_5m',
  queueCompletedRate: 'job_queue:queue_jobs_completed:rate5m',
  queueFailedRate: 'job_queue:queue_jobs_failed:rate5m',
  queueFinishedRate: 'job_queue:queue_jobs_finished:rate5m',
  queueFailedRatio: 'job_queue:queue_jobs_failed:ratio_rate5m',
  queueJobDurationP95: 'job_queue:queue_job_duration_seconds:p95_5m',
  heapUsedPerLimit: 'instance:nodejs_heap_used_per_limit:ratio',
} as const;

/** Requests per second of a job over a window. */
export function requestRate(window: SliWindow): string {
  return `job:http_requests:rate${window}`;
}

/** Availability SLI complement: share of requests answered 5xx over a window. */
export function errorRatio(window: SliWindow): string {
  return `job:slo_errors_per_request:ratio_rate${window}`;
}

/** Latency SLI complement: share of requests slower than the SLO threshold over a window. */
export function slowRequestRatio(window: SliWindow): string {
  return `job:slo_slow_requests_per_request:ratio_rate${window}`;
}

/** Every recording rule name, in no particular order. */
export function recordingRuleNames(): string[] {
  return [
    ...Object.values(RECORDING_RULES),
    ...SLI_WINDOWS.flatMap((window) => [requestRate(window), errorRatio(window), slowRequestRatio(window)]),
  ];
}

/**
 * Names of the recording rules the generator writes (monitoring/src/rules/recording.ts): the one
 * place TypeScript spells them, so dashboards and alerts read the same series the rules record.
 */

/** Window of the rates and quantiles the recording rules keep (in their names: `rate5m`). */
export const RATE_WINDOW = '5m';

/** A window of the SLO indicators, e.g. '5m', '6h', '30d'. */
export type SliWindow = string;

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

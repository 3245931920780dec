import { z } from 'zod';
import type { Config } from '../config/config.js';
import type { OperationDoc } from './api-operation.js';

/** @nestjs/terminus' answer: `status`, and per dependency its state under info, error and details. */
const healthSchema = z.looseObject({
  status: z.string(),
  info: z.record(z.string(), z.unknown()).optional(),
  error: z.record(z.string(), z.unknown()).optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

/**
 * The observability package's routes, described here because its controller knows nothing of this
 * document; what they answer depends on the same settings the package is given.
 */
export function observabilityDocs(config: Config): Record<string, OperationDoc> {
  const metricsErrors: Record<number, string> = {};
  if (config.METRICS_TOKEN !== undefined) metricsErrors[401] = 'no or a wrong `Authorization: Bearer <METRICS_TOKEN>`';
  if (!config.METRICS_ENABLED) metricsErrors[404] = 'metrics are disabled (METRICS_ENABLED=false)';
  return {
    'GET /metrics': {
      summary: 'Prometheus metrics',
      description: 'Every metric and its labels: MONITORING.md.',
      success: { description: 'the Prometheus text exposition format', schema: z.string(), contentType: 'text/plain' },
      errors: metricsErrors,
    },
    'GET /health/live': {
      summary: 'Liveness: the process answers',
      success: { description: 'the process is up', schema: healthSchema },
    },
    'GET /health/ready': {
      summary: 'Readiness: the database and the queue answer',
      success: { description: 'every dependency is up', schema: healthSchema },
      errors: { 503: { description: 'a dependency is down, or the instance is shutting down', schema: healthSchema } },
    },
  };
}

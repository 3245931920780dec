import { Inject, Injectable, Optional } from '@nestjs/common';
import { ClusterMetricsLink } from './cluster-link.js';
import { HealthRegistry, type HealthResponse } from './health.js';
import { negotiateExpositionFormat } from './exposition-format.js';
import { bearerTokenMatches } from './metrics-auth.js';
import { AppMetrics } from './metrics.js';
import { OBSERVABILITY_OPTIONS, type ObservabilityOptions } from './options.js';

export interface EndpointResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Record<string, string>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

const json = ({ status, body }: HealthResponse): EndpointResponse => ({
  status,
  contentType: JSON_TYPE,
  body: JSON.stringify(body),
});

/**
 * What `/metrics` and `/health/*` answer, independent of where they are served: the Nest
 * controllers on the application port and the management listener both call this.
 */
@Injectable()
export class ObservabilityEndpoints {
  constructor(
    @Inject(OBSERVABILITY_OPTIONS) private readonly options: ObservabilityOptions,
    private readonly health: HealthRegistry,
    @Optional() private readonly metrics?: AppMetrics,
    @Optional() private readonly cluster?: ClusterMetricsLink,
  ) {}

  /** `accept` picks the format: OpenMetrics when the scraper asks for it, else the text format. */
  async metricsText(authorization: string | undefined, accept?: string): Promise<EndpointResponse> {
    if (!this.metrics) {
      return { status: 404, contentType: JSON_TYPE, body: JSON.stringify({ statusCode: 404, message: 'metrics are disabled' }) };
    }
    const token = this.options.metricsToken;
    if (token !== undefined && !bearerTokenMatches(authorization, token)) {
      return {
        status: 401,
        contentType: JSON_TYPE,
        headers: { 'www-authenticate': 'Bearer realm="metrics"' },
        body: JSON.stringify({ statusCode: 401, error: 'Unauthorized', message: 'a valid bearer token is required' }),
      };
    }
    const format = negotiateExpositionFormat(accept);
    let body: string;
    if (this.cluster?.active) {
      try {
        body = await this.cluster.render(format);
      } catch (error) {
        // A partial sum would read as a counter reset; a failed scrape is a gap Prometheus handles.
        const message = `cluster metrics unavailable: ${error instanceof Error ? error.message : String(error)}`;
        return { status: 503, contentType: JSON_TYPE, body: JSON.stringify({ statusCode: 503, error: 'Service Unavailable', message }) };
      }
    } else body = await this.metrics.render(format);
    return { status: 200, contentType: AppMetrics.contentTypeOf(format), headers: { vary: 'Accept' }, body };
  }

  async live(): Promise<EndpointResponse> {
    return json(await this.health.live());
  }

  async ready(): Promise<EndpointResponse> {
    return json(await this.health.ready());
  }
}

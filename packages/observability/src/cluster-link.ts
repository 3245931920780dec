import cluster from 'node:cluster';
import { Inject, Injectable, type OnApplicationShutdown, Optional } from '@nestjs/common';
import { ClusterMetricsWorker } from './cluster.js';
import { AppMetrics, type ExpositionFormat } from './metrics.js';
import { OBSERVABILITY_OPTIONS, type ObservabilityOptions } from './options.js';

/**
 * The Nest side of `ClusterMetricsWorker`: present in a cluster worker when `clusterMetrics` is on,
 * so `/metrics` (either port) serves every worker's metrics, aggregated by the primary. Elsewhere
 * (no cluster, the primary, the option off) it is inert and the process serves its own.
 */
@Injectable()
export class ClusterMetricsLink implements OnApplicationShutdown {
  private readonly worker: ClusterMetricsWorker | undefined;

  constructor(@Inject(OBSERVABILITY_OPTIONS) options: ObservabilityOptions, @Optional() metrics?: AppMetrics) {
    if (options.clusterMetrics && cluster.isWorker && metrics) this.worker = new ClusterMetricsWorker([metrics.registry]);
  }

  get active(): boolean {
    return this.worker !== undefined;
  }

  render(format: ExpositionFormat): Promise<string> {
    if (!this.worker) throw new Error('not a cluster worker with clusterMetrics on');
    return this.worker.render(format);
  }

  /** After the servers closed: this worker's final counts stay in the aggregate the others serve. */
  async onApplicationShutdown(): Promise<void> {
    await this.worker?.leave();
  }
}

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BINARIES, prometheusCommand } from '../../runtime/native.js';
import { type RunningService, startService } from './service.js';

/**
 * A real, throwaway Prometheus server for tests: 127.0.0.1 on a free port, storage in a temporary
 * directory, stopped with SIGTERM and cleaned up by stop().
 *
 *   const prometheus = await startPrometheus();          // no scrape targets
 *   after(() => prometheus.stop());
 *   const result = await prometheus.query('up');        // result.status === 'success'
 */

export interface PrometheusOptions {
  /**
   * prometheus.yml content, or a function of the server's own port and directory (to scrape
   * itself, or to point at rule files written beside it). Default: global settings only,
   * nothing scraped.
   */
  readonly config?: string | ((port: number, dir: string) => string | Promise<string>);
  /** Extra command-line flags, e.g. ['--storage.tsdb.retention.time=1h']. */
  readonly args?: readonly string[];
  /** Binary to run; default `prometheus` from PATH (or $PROMETHEUS_BINARY). */
  readonly binary?: string;
  readonly readyTimeoutMs?: number;
}

/** Body of a Prometheus HTTP API answer. */
export interface PrometheusResponse {
  readonly status: 'success' | 'error';
  readonly data?: { readonly resultType: string; readonly result: unknown[] };
  readonly errorType?: string;
  readonly error?: string;
  readonly warnings?: string[];
}

export interface RunningPrometheus extends RunningService {
  /** Instant query through /api/v1/query; `time` in Unix seconds, default now. */
  query(expr: string, time?: number): Promise<PrometheusResponse>;
}

export const EMPTY_PROMETHEUS_CONFIG = 'global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n';

export async function startPrometheus(options: PrometheusOptions = {}): Promise<RunningPrometheus> {
  const service = await startService({
    name: 'prometheus',
    command: options.binary ?? BINARIES.prometheus,
    prepare: async (dir, port) => {
      const config = typeof options.config === 'function' ? await options.config(port, dir) : options.config;
      await writeFile(join(dir, 'prometheus.yml'), config ?? EMPTY_PROMETHEUS_CONFIG);
    },
    args: (port, dir) => [
      ...prometheusCommand({
        configFile: join(dir, 'prometheus.yml'),
        dataDir: join(dir, 'data'),
        host: '127.0.0.1',
        port,
        logLevel: 'warn',
      }).argv.slice(1),
      ...(options.args ?? []),
    ],
    readyPath: '/-/ready',
    readyTimeoutMs: options.readyTimeoutMs,
  });
  const query = async (expr: string, time?: number): Promise<PrometheusResponse> => {
    const body = new URLSearchParams({ query: expr });
    if (time !== undefined) body.set('time', String(time));
    const response = await fetch(`${service.url}/api/v1/query`, { method: 'POST', body, signal: AbortSignal.timeout(10_000) });
    return (await response.json()) as PrometheusResponse;
  };
  return { ...service, query };
}

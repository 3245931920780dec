import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { ClusterMetricsPrimary } from '@obsnest/observability/cluster';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { restartDelayMs } from './restart-backoff.js';

/**
 * The primary of `API_WORKERS` > 1: forks the workers (each runs the application as a single
 * process would, on the shared PORT), answers their `/metrics` with every worker's metrics
 * aggregated, restarts a worker that dies, and on SIGTERM/SIGINT lets every worker drain as a single
 * process does, exiting once they all have. It serves no request itself and loads no NestJS.
 */
export function runPrimary(config: Config, logger: Logger): void {
  const log = logger.child({ role: 'primary' });
  const metrics = config.METRICS_ENABLED ? new ClusterMetricsPrimary() : undefined;
  /** Slot of each worker (1..N), so a replacement takes the place, and the back-off, of the one it replaces. */
  const slotOf = new Map<number, number>();
  const crashes = new Map<number, { count: number; startedAt: number }>();
  const listening = new Set<number>();
  const restartTimers = new Set<NodeJS.Timeout>();
  /** Exit codes of the workers stopped by the shutdown. */
  const exitCodes: number[] = [];
  let allListening = false;
  let stopping = false;

  const fork = (slot: number): Worker => {
    const worker = cluster.fork({ API_WORKER_SLOT: String(slot) });
    slotOf.set(worker.id, slot);
    const state = crashes.get(slot);
    crashes.set(slot, { count: state?.count ?? 0, startedAt: Date.now() });
    return worker;
  };

  cluster.on('listening', (worker, address) => {
    if (address.port !== config.PORT) return;
    listening.add(worker.id);
    if (!allListening && listening.size === config.API_WORKERS) {
      allListening = true;
      log.info({ url: `http://${config.HOST}:${config.PORT}`, workers: config.API_WORKERS }, 'listening');
    }
  });

  cluster.on('exit', (worker, code, signal) => {
    const slot = slotOf.get(worker.id) ?? 0;
    slotOf.delete(worker.id);
    listening.delete(worker.id);
    const context = { worker: slot, pid: worker.process.pid, code, signal };
    if (stopping) {
      // What the shutdown went like; a worker that crashed earlier was replaced.
      exitCodes.push(code ?? 1);
      log.info(context, 'worker stopped');
      if (slotOf.size === 0) finish();
      return;
    }
    if (!allListening) {
      // Nothing was serving yet: a configuration, a port or a dependency problem that a restart
      // would only repeat. Exit like a single process does, for the supervisor to see.
      log.fatal(context, 'a worker failed at start-up, stopping the others');
      stop('SIGTERM', 1);
      return;
    }
    const state = crashes.get(slot) ?? { count: 0, startedAt: Date.now() };
    const delay = restartDelayMs(state.count, Date.now() - state.startedAt);
    crashes.set(slot, { count: delay === 0 ? 0 : state.count + 1, startedAt: state.startedAt });
    log.error({ ...context, restartInMs: delay }, 'worker exited unexpectedly, restarting it');
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (!stopping) fork(slot);
    }, delay);
    restartTimers.add(timer);
  });

  let exitCode = 0;
  const finish = () => {
    metrics?.close();
    const failed = exitCode !== 0 || exitCodes.some((c) => c !== 0);
    log.info({ exitCodes }, 'stopped');
    process.exit(failed ? 1 : 0);
  };

  const stop = (signal: NodeJS.Signals, code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const timer of restartTimers) clearTimeout(timer);
    log.info({ signal, workers: slotOf.size }, 'shutting down: every worker drains');
    // Each worker runs its own drain (readiness 503, then close): a signal, not cluster's
    // worker.kill(), which disconnects first and so closes the worker's servers at once.
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    setTimeout(() => {
      log.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'workers did not stop in time, killing them');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS + 2000).unref();
    if (slotOf.size === 0) finish();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  // This entry point, not process.argv[1]: under a wrapper (PM2's fork mode, a loader) that is theirs.
  cluster.setupPrimary({ exec: fileURLToPath(new URL('../main.js', import.meta.url)) });
  log.info({ workers: config.API_WORKERS }, 'starting workers');
  for (let slot = 1; slot <= config.API_WORKERS; slot++) fork(slot);
}

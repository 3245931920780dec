#!/usr/bin/env node
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
// Nothing here imports NestJS or an adapter: with tracing on, the OpenTelemetry SDK must patch
// them before they load, so the application is imported only once startTracing has run.
import { runPrimary } from './cluster/primary.js';
import { type Config, ConfigError, loadConfig, redactedConfig } from './config/config.js';
import { createLogger } from './logging/logger.js';
import { terminalDestination } from './logging/terminal.js';
import { startTracing, tracingEnabled } from './tracing/start-tracing.js';
import { APP_VERSION } from './version.js';

function configOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Plain text on stderr: this is read by a person fixing their .env, before any logger exists.
    process.stderr.write(`${error.message}\nSee .env.example for every variable and its meaning.\n`);
    process.exit(78); // EX_CONFIG
  }
}

async function main(): Promise<void> {
  const config = configOrExit();
  const clustered = config.API_WORKERS > 1;
  if (clustered && cluster.isPrimary) {
    const logger = createLogger(config.LOG_LEVEL, terminalDestination(config.NODE_ENV));
    logger.info({ version: APP_VERSION, node: process.version, config: redactedConfig(config) }, 'starting');
    runPrimary(config, logger);
    return;
  }
  const tracing = await startTracing(config);
  const base = createLogger(config.LOG_LEVEL, terminalDestination(config.NODE_ENV), { traceIds: tracingEnabled(config) });
  // Every line of a worker says which one (its slot, 1..API_WORKERS, kept by its replacement).
  const logger = clustered ? base.child({ worker: Number(process.env.API_WORKER_SLOT ?? cluster.worker?.id), pid: process.pid }) : base;
  if (!clustered) logger.info({ version: APP_VERSION, node: process.version, config: redactedConfig(config) }, 'starting');
  const [{ createApp }, { HealthRegistry }] = await Promise.all([import('./app.js'), import('@obsnest/observability')]);

  const app = await createApp(config, logger).catch((error: unknown) => {
    logger.fatal({ err: error instanceof Error ? error.message : String(error) }, 'start-up failed');
    process.exit(1);
  });
  await app.listen(config.PORT, config.HOST);
  // In a cluster the primary says "listening" once every worker does.
  logger.info({ url: `http://${config.HOST}:${config.PORT}` }, clustered ? 'worker listening' : 'listening');

  let stopping = false;
  const server = app.getHttpServer() as Server;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    // From the signal on, every response tells keep-alive clients to reconnect (to another instance,
    // readiness being 503 here). Without it, Node's server.close() keeps serving a connection that was
    // busy when close() ran for as long as its client keeps sending: a load balancer polling over
    // keep-alive would hold the process until SHUTDOWN_TIMEOUT_MS and a failed exit. Added only now,
    // so that requests before the signal pay for no second `request` listener.
    server.prependListener('request', (_req, res) => {
      if (!res.headersSent) res.setHeader('connection', 'close');
    });
    logger.info({ signal, drainMs: config.SHUTDOWN_DRAIN_MS }, 'shutting down: readiness now reports 503');
    setTimeout(() => {
      logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out, exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS).unref();
    app.get(HealthRegistry).markShuttingDown();
    await sleep(config.SHUTDOWN_DRAIN_MS);
    // Stops accepting, lets in-flight requests finish, then closes sockets, the queue (waiting for
    // running jobs) and the database, in that order.
    // Connections that were busy when close() ran become idle later; close them as they do.
    const reaper = setInterval(() => server.closeIdleConnections(), 100);
    await app.close();
    clearInterval(reaper);
    // The last spans (those of the shutdown's own jobs included) are exported before exiting, for
    // at most 2 s: an unreachable trace backend must not turn a clean stop into a timed-out one.
    if (tracing) {
      const flushed = await Promise.race([
        tracing.shutdown().then(
          () => true,
          () => false,
        ),
        sleep(2000).then(() => false),
      ]);
      if (!flushed) logger.warn('the last spans could not be exported (trace backend unreachable or slow)');
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', (s) => void shutdown(s));
  process.once('SIGINT', (s) => void shutdown(s));
}

void main();

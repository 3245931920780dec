import { setTimeout as sleep } from 'node:timers/promises';
import { HealthRegistry } from '@obsnest/observability';
import { createApp } from './app.js';
import { type Config, ConfigError, loadConfig, redactedConfig } from './config/config.js';
import { createLogger } from './logging/logger.js';
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
  const logger = createLogger(config.LOG_LEVEL);
  logger.info({ version: APP_VERSION, node: process.version, config: redactedConfig(config) }, 'starting');

  const app = await createApp(config, logger).catch((error: unknown) => {
    logger.fatal({ err: error instanceof Error ? error.message : String(error) }, 'start-up failed');
    process.exit(1);
  });
  await app.listen(config.PORT, config.HOST);
  logger.info({ url: `http://${config.HOST}:${config.PORT}` }, 'listening');

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, drainMs: config.SHUTDOWN_DRAIN_MS }, 'shutting down: readiness now reports 503');
    setTimeout(() => {
      logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out, exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS).unref();
    app.get(HealthRegistry).markShuttingDown();
    await sleep(config.SHUTDOWN_DRAIN_MS);
    // Stops accepting, lets in-flight requests finish, then closes sockets, the queue (waiting for
    // running jobs) and the database, in that order.
    await app.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', (s) => void shutdown(s));
  process.once('SIGINT', (s) => void shutdown(s));
}

void main();

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alertmanagerCommand, BINARIES } from '../../runtime/native.js';
import { WEBHOOK_SINK } from './paths.js';
import { type RunningService, startService } from './service.js';

/** Debian's name for the Alertmanager binary; upstream archives call it `alertmanager`. */
export const ALERTMANAGER_BINARY = BINARIES.alertmanager;

export interface RunningAlertmanager extends RunningService {
  /** Posts alerts to /api/v2/alerts, as Prometheus does. */
  postAlerts(alerts: readonly { labels: Record<string, string>; annotations?: Record<string, string> }[]): Promise<void>;
}

/** A throwaway Alertmanager with the given configuration, clustering off (flags as the native stack's). */
export async function startAlertmanager(config: string): Promise<RunningAlertmanager> {
  const service = await startService({
    name: 'alertmanager',
    command: ALERTMANAGER_BINARY,
    prepare: (dir) => writeFile(join(dir, 'alertmanager.yml'), config),
    args: (port, dir) =>
      alertmanagerCommand({
        configFile: join(dir, 'alertmanager.yml'),
        storageDir: join(dir, 'data'),
        host: '127.0.0.1',
        port,
        logLevel: 'warn',
      }).argv.slice(1),
    readyPath: '/-/ready',
  });
  const postAlerts: RunningAlertmanager['postAlerts'] = async (alerts) => {
    const response = await fetch(`${service.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts.map((alert) => ({ ...alert, startsAt: new Date().toISOString() }))),
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) throw new Error(`POST /api/v2/alerts: ${response.status} ${await response.text()}`);
  };
  return { ...service, postAlerts };
}

/** monitoring/alertmanager/webhook-sink.mjs on a free port. */
export function startAlertSink(): Promise<RunningService> {
  return startService({
    name: 'alert-sink',
    command: process.execPath,
    args: () => [WEBHOOK_SINK],
    env: (port) => ({ ...process.env, ALERT_SINK_HOST: '127.0.0.1', ALERT_SINK_PORT: String(port) }),
    readyPath: '/',
  });
}

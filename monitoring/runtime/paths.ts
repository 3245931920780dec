import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the monitoring files live, for everything that reads them outside docker compose: the
 * native stack runner (scripts/stack.mjs) and the tests. Computed from this module's compiled
 * location, monitoring/dist/runtime.
 */
export const MONITORING_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const REPO_ROOT = join(MONITORING_DIR, '..');

export const PROMETHEUS_DIR = join(MONITORING_DIR, 'prometheus');
export const PROMETHEUS_CONFIG = join(PROMETHEUS_DIR, 'prometheus.yml');
export const RULES_DIR = join(PROMETHEUS_DIR, 'rules');

export const ALERTMANAGER_DIR = join(MONITORING_DIR, 'alertmanager');
export const ALERTMANAGER_CONFIG = join(ALERTMANAGER_DIR, 'alertmanager.yml');
/** Substitutes the webhook URL into alertmanager.yml (compose entrypoint and native stack alike). */
export const ALERTMANAGER_RENDER_SCRIPT = join(ALERTMANAGER_DIR, 'render-config.sh');
/** The stand-in notification receiver used when no ALERT_WEBHOOK_URL is set. */
export const WEBHOOK_SINK = join(ALERTMANAGER_DIR, 'webhook-sink.mjs');

export const GRAFANA_DIR = join(MONITORING_DIR, 'grafana');
export const COMPOSE_FILE = join(REPO_ROOT, 'docker-compose.yml');

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** monitoring/, from monitoring/dist/tests/support where this module runs. */
export const MONITORING_DIR = fileURLToPath(new URL('../../../', import.meta.url));
export const REPO_ROOT = join(MONITORING_DIR, '..');

export const PROMETHEUS_DIR = join(MONITORING_DIR, 'prometheus');
export const PROMETHEUS_CONFIG = join(PROMETHEUS_DIR, 'prometheus.yml');
export const RULES_DIR = join(PROMETHEUS_DIR, 'rules');
export const RULE_TESTS_DIR = join(PROMETHEUS_DIR, 'tests');
export const RUNBOOK_INDEX = join(RULES_DIR, 'RUNBOOK-INDEX.md');

export const ALERTMANAGER_DIR = join(MONITORING_DIR, 'alertmanager');
export const ALERTMANAGER_CONFIG = join(ALERTMANAGER_DIR, 'alertmanager.yml');

export const GRAFANA_DIR = join(MONITORING_DIR, 'grafana');
export const GRAFANA_SOURCE_DIR = join(GRAFANA_DIR, 'src');

export const COMPOSE_FILE = join(REPO_ROOT, 'docker-compose.yml');
export const DOCKERFILE = join(REPO_ROOT, 'Dockerfile');

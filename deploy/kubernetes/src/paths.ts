import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** deploy/kubernetes, from its compiled location deploy/kubernetes/dist/src. */
export const KUBERNETES_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const REPO_ROOT = join(KUBERNETES_DIR, '..', '..');

export const BASE_DIR = join(KUBERNETES_DIR, 'base');
export const OVERLAYS_DIR = join(KUBERNETES_DIR, 'overlays');

/** The sources of the generated manifests: read as files, as a person would edit them. */
export const RULES_DIR = join(REPO_ROOT, 'monitoring', 'prometheus', 'rules');
export const RULE_FILES = { recording: join(RULES_DIR, 'recording.yml'), alerts: join(RULES_DIR, 'alerts.yml') } as const;
export const DASHBOARDS_DIR = join(REPO_ROOT, 'monitoring', 'grafana', 'dashboards');
export const API_CONFIG_SCHEMA = join(REPO_ROOT, 'apps', 'api', 'src', 'config', 'schema.ts');

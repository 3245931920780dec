import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const exec = promisify(execFile);

/** A rendered Kubernetes object, as plain data. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [field: string]: unknown;
}

/**
 * `kubectl kustomize <dir>`: the real kustomize (v5 inside kubectl ≥ 1.27), fully offline: it reads
 * files and needs no cluster. Debian's kubernetes-client (1.20) embeds kustomize 2.0, which does not
 * know `labels`, `patches` nor directories in `resources`; the node-svc image ships a recent kubectl.
 */
export async function kustomize(dir: string): Promise<K8sObject[]> {
  let stdout: string;
  try {
    ({ stdout } = await exec('kubectl', ['kustomize', dir], { maxBuffer: 64 * 1024 * 1024 }));
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error('kubectl not found: the Kubernetes tests render the overlays with `kubectl kustomize` (kubectl 1.27 or later)');
    throw new Error(`kubectl kustomize ${dir} failed: ${e.stderr?.trim() || e.message}`);
  }
  return parseAllDocuments(stdout)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: unparsable output: ${doc.errors[0].message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

export async function kustomizeVersion(): Promise<string> {
  const { stdout } = await exec('kubectl', ['version', '--client', '--output=json']);
  return (JSON.parse(stdout) as { kustomizeVersion?: string }).kustomizeVersion ?? 'unknown';
}

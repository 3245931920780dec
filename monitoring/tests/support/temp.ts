import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';

/**
 * A temporary directory for the tests of the enclosing `describe`: created before them, removed
 * after them whatever their outcome. Returns a getter, valid inside the tests.
 */
export function useTempDir(name: string): () => string {
  let dir: string | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `obsnest-${name}-`));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error(`temporary directory ${name} used outside its suite`);
    return dir;
  };
}

/** Runs `work` with a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir<T>(name: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `obsnest-${name}-`));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

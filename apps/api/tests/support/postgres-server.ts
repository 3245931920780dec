import { execFile as execFileCb, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, tempDir } from './services.js';

const execFile = promisify(execFileCb);

/**
 * A PostgreSQL server of the test's own (initdb into a temp dir, its own port and socket dir),
 * which it may stop, freeze and restart. The machine's shared server on 5432 is never touched.
 */
export interface PostgresServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server: `immediate` is a crash, as when the host dies. */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** SIGSTOPs (true) or SIGCONTs (false) every process of the server: a hung database. */
  freeze(frozen: boolean): void;
  /** Stops it if running and deletes its files. */
  remove(): Promise<void>;
}

function binDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((v) => join(root, v, 'bin')).find((dir) => existsSync(join(dir, 'initdb')));
  if (!found) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (set PG_BIN)');
  return found;
}

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` user. */
function asServerUser(): { wrap: (argv: string[]) => [string, string[]]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { wrap: ([cmd, ...args]) => [cmd, args] };
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { wrap: (argv) => ['runuser', ['-u', 'postgres', '--', ...argv]], uid, gid };
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = binDir();
  const user = asServerUser();
  const dir = await tempDir('obsnest-pg-');
  const data = join(dir.path, 'data');
  const sockets = join(dir.path, 'sockets');
  await mkdir(sockets);
  if (user.uid !== undefined && user.gid !== undefined) {
    await chown(dir.path, user.uid, user.gid);
    await chown(sockets, user.uid, user.gid);
  }
  const run = async (argv: string[]) => {
    const [cmd, args] = user.wrap(argv);
    await execFile(cmd, args, { timeout: 60_000 });
  };
  await run([join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${sockets}`,
    '-c listen_addresses=127.0.0.1',
    // Saves time and is safe for what is simulated here: a crashed server process, whose writes the
    // kernel still holds. Commits stay synchronous, or a crash would lose them (and the migrations).
    '-c fsync=off',
  ].join(' ');
  let running = false;
  const server: PostgresServer = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      await run([join(bin, 'pg_ctl'), '-D', data, '-l', join(dir.path, 'server.log'), '-w', '-t', '30', '-o', options, 'start']);
      running = true;
    },
    async stop(mode = 'immediate') {
      await run([join(bin, 'pg_ctl'), '-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
      running = false;
    },
    freeze(frozen) {
      const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      let children: number[] = [];
      try {
        children = execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' })
          .trim()
          .split('\n')
          .filter(Boolean)
          .map(Number);
      } catch {
        // pgrep exits 1 when there are none.
      }
      for (const pid of [postmaster, ...children]) process.kill(pid, frozen ? 'SIGSTOP' : 'SIGCONT');
    },
    async remove() {
      if (running) {
        try {
          server.freeze(false);
        } catch {
          // Not frozen, or already gone.
        }
        await server.stop('immediate').catch(() => undefined);
      }
      await dir.remove();
    },
  };
  await server.start();
  return server;
}

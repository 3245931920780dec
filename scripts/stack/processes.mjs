// @ts-check
// Background processes of the native stack: started detached in their own process group with
// their output in <run dir>/<name>.log, recorded in <name>.pid (the pid) and <name>.json (the
// command line and what `status` shows). A recorded process counts as ours only while
// /proc/<pid>/cmdline still equals the recorded command line, so a pid reused by an unrelated
// process after a crash or a reboot is never signalled.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/**
 * @typedef {object} ServiceRecord
 * @property {string} name
 * @property {number} pid
 * @property {string[]} argv
 * @property {string} fingerprint what the process was started with (command, relevant environment)
 * @property {string} [url] shown by `status`
 * @property {string} [readyUrl] probed by `status`
 * @property {string} startedAt
 */

/** @param {string} runDir @param {string} name */
export function recordFiles(runDir, name) {
  return { pid: join(runDir, `${name}.pid`), meta: join(runDir, `${name}.json`), log: join(runDir, `${name}.log`) };
}

/** The command line of a live process, or undefined (gone, a zombie, or not readable). */
export function cmdlineOf(/** @type {number} */ pid) {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (raw === '') return undefined;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

const sameArgv = (/** @type {readonly string[]} */ a, /** @type {readonly string[]} */ b) =>
  a.length === b.length && a.every((arg, i) => arg === b[i]);

/**
 * What the run directory says about a service.
 *   running: recorded, and the pid runs the recorded command line;
 *   stale:   recorded, but the pid is gone or now runs something else (never signalled);
 *   absent:  nothing recorded.
 * @param {string} runDir @param {string} name
 * @returns {{ state: 'running', record: ServiceRecord } | { state: 'stale', record?: ServiceRecord, reason: string } | { state: 'absent' }}
 */
export function inspect(runDir, name) {
  const files = recordFiles(runDir, name);
  if (!existsSync(files.pid) && !existsSync(files.meta)) return { state: 'absent' };
  /** @type {ServiceRecord | undefined} */
  let record;
  try {
    record = JSON.parse(readFileSync(files.meta, 'utf8'));
  } catch {
    return { state: 'stale', reason: `${files.meta} is missing or unreadable` };
  }
  let pid = Number.NaN;
  try {
    pid = Number(readFileSync(files.pid, 'utf8').trim());
  } catch {
    // Handled below: a record without a pid file is stale.
  }
  if (!record || !Number.isInteger(pid) || pid <= 1 || pid !== record.pid) {
    return { state: 'stale', record, reason: 'pid file and record disagree' };
  }
  const cmdline = cmdlineOf(pid);
  if (!cmdline) return { state: 'stale', record, reason: `process ${pid} is gone` };
  if (!sameArgv(cmdline, record.argv)) return { state: 'stale', record, reason: `pid ${pid} now belongs to another program` };
  return { state: 'running', record };
}

/** @param {string} runDir @param {string} name */
export function forget(runDir, name) {
  const files = recordFiles(runDir, name);
  rmSync(files.pid, { force: true });
  rmSync(files.meta, { force: true });
}

/**
 * Starts a process detached, in its own process group, stdin closed, stdout and stderr appended
 * to log files; it outlives this script. Records it before returning.
 * @param {{ runDir: string, name: string, argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string,
 *   fingerprint: string, url?: string, readyUrl?: string, stdoutFile?: string }} spec
 * @returns {{ record: ServiceRecord, exited: Promise<string> }} exited resolves with a description if the process ends
 */
export function startDetached(spec) {
  const files = recordFiles(spec.runDir, spec.name);
  const err = openSync(files.log, 'a', 0o600);
  const out = spec.stdoutFile ? openSync(spec.stdoutFile, 'a', 0o600) : err;
  try {
    const [command, ...args] = spec.argv;
    const child = spawn(/** @type {string} */ (command), args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', out, err],
    });
    /** @type {Promise<string>} */
    const exited = new Promise((resolve) => {
      child.once('error', (error) => resolve(`could not start: ${error.message}`));
      child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with code ${code}`));
    });
    child.unref();
    if (child.pid === undefined) {
      return { record: /** @type {ServiceRecord} */ ({ name: spec.name, pid: 0, argv: [...spec.argv] }), exited };
    }
    /** @type {ServiceRecord} */
    const record = {
      name: spec.name,
      pid: child.pid,
      argv: [...spec.argv],
      fingerprint: spec.fingerprint,
      url: spec.url,
      readyUrl: spec.readyUrl,
      startedAt: new Date().toISOString(),
    };
    writeFileSync(files.pid, `${child.pid}\n`);
    writeFileSync(files.meta, `${JSON.stringify(record, null, 2)}\n`);
    return { record, exited };
  } finally {
    closeSync(err);
    if (out !== err) closeSync(out);
  }
}

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Stops a recorded service: SIGTERM, then SIGKILL after `timeoutMs`, only if the pid still runs
 * the recorded command line. Forgets the record either way.
 * @param {string} runDir @param {string} name @param {number} timeoutMs
 * @returns {Promise<string>} what happened, for the user
 */
export async function stop(runDir, name, timeoutMs) {
  const found = inspect(runDir, name);
  if (found.state === 'absent') return 'not running';
  if (found.state === 'stale') {
    forget(runDir, name);
    return `not running (${found.reason}; record removed, nothing signalled)`;
  }
  const { pid, argv } = found.record;
  const stillOurs = () => {
    const cmdline = cmdlineOf(pid);
    return cmdline !== undefined && sameArgv(cmdline, argv);
  };
  const signal = (/** @type {NodeJS.Signals} */ sig) => {
    try {
      if (stillOurs()) process.kill(pid, sig);
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'ESRCH') throw error;
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (stillOurs() && Date.now() < deadline) await sleep(100);
  let outcome = `stopped (pid ${pid})`;
  if (stillOurs()) {
    signal('SIGKILL');
    const killDeadline = Date.now() + 5000;
    while (stillOurs() && Date.now() < killDeadline) await sleep(50);
    outcome = stillOurs() ? `pid ${pid} survived SIGKILL` : `killed after ${timeoutMs} ms (pid ${pid})`;
  }
  if (!stillOurs()) forget(runDir, name);
  return outcome;
}

/**
 * Whether host:port can be bound right now (nothing listens there).
 * @param {string} host @param {number} port @returns {Promise<boolean>}
 */
export function portIsFree(host, port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** GET url; true on a 2xx answer within the timeout. */
export async function answers(/** @type {string} */ url, timeoutMs = 2000) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** The last lines of a log file, for error messages. */
export function tail(/** @type {string} */ file, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

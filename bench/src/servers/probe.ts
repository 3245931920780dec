/**
 * Loaded into every server the harness starts (bench servers import it; the real API gets it
 * with `node --import`). It answers the harness over the IPC channel, so no measurement route
 * is added to the application under test: memory, forced GC, event-loop delay and CPU profiles.
 *
 * Nothing here runs per request: the only listener is on the IPC channel.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

export interface ProbeRequest {
  readonly id: number;
  readonly cmd: string;
  readonly args?: unknown;
}

type Handler = (args: unknown) => unknown;
const handlers = new Map<string, Handler>();

/** Adds a command the harness can call (server-specific ones, e.g. `populate` in the bench server). */
export function onCommand(name: string, handler: Handler): void {
  handlers.set(name, handler);
}

let delay: IntervalHistogram | undefined;
let session: Session | undefined;

function post<T>(s: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => s.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T))));
}

onCommand('memory', () => process.memoryUsage());
// Microseconds, every thread: finer than /proc's 10 ms ticks, for batches of a few hundred requests.
onCommand('cpu', () => process.cpuUsage());
onCommand('gc', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return { ...process.memoryUsage(), collected: gc !== undefined };
});
onCommand('eld-start', () => {
  delay?.disable();
  delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  return true;
});
onCommand('eld-stop', () => {
  if (!delay) throw new Error('eld-start first');
  delay.disable();
  const ms = (ns: number) => ns / 1e6;
  const result = { maxMs: ms(delay.max), p99Ms: ms(delay.percentile(99)), p50Ms: ms(delay.percentile(50)), meanMs: ms(delay.mean) };
  delay = undefined;
  return result;
});
onCommand('profile-start', async (args) => {
  session = new Session();
  session.connect();
  const interval = (args as { intervalUs?: number } | undefined)?.intervalUs ?? 200;
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval });
  await post(session, 'Profiler.start');
  return true;
});
onCommand('profile-stop', async (args) => {
  if (!session) throw new Error('profile-start first');
  const { profile } = await post<{ profile: unknown }>(session, 'Profiler.stop');
  session.disconnect();
  session = undefined;
  const path = (args as { path: string }).path;
  writeFileSync(path, JSON.stringify(profile));
  return path;
});

if (process.send) {
  process.on('message', (message: ProbeRequest) => {
    const handler = handlers.get(message.cmd);
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown probe command ${message.cmd}`);
        return handler(message.args);
      })
      .then(
        (result) => process.send?.({ id: message.id, ok: true, result }),
        (error: unknown) => process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
      );
  });
}

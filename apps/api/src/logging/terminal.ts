import type { DestinationStream } from 'pino';
import pretty from 'pino-pretty';

/**
 * Readable, coloured lines for a person at a terminal (`npm run dev`, `npm run api`); JSON wherever
 * the output is piped (files, log collectors, tests), and always in production, where a terminal is
 * an accident (`docker run -t`) and the collector behind it still expects JSON.
 * Synchronous, as pino's default destination is: the last lines before an exit are not lost.
 */
export function terminalDestination(nodeEnv: string, stdout: { readonly isTTY?: boolean } = process.stdout): DestinationStream | undefined {
  if (stdout.isTTY !== true || nodeEnv === 'production') return undefined;
  return pretty({
    colorize: true,
    sync: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    messageFormat: '{if component}[{component}] {end}{msg}',
    ignore: 'service,component',
  });
}

/** A worker that ran this long before dying is replaced at once: it was not crash-looping. */
export const STABLE_AFTER_MS = 60_000;
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 30_000;

/**
 * How long the primary waits before replacing a worker that died, given how many times its slot
 * already crashed in a row and how long this one lived: immediately after a stable run, then 250 ms
 * doubling up to 30 s, so a worker that dies at every start does not spin the CPU.
 */
export function restartDelayMs(previousCrashes: number, livedMs: number): number {
  if (livedMs >= STABLE_AFTER_MS) return 0;
  return Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** previousCrashes);
}

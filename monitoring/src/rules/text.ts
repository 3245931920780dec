import { durationSeconds } from '../config.js';

/** Numbers and durations of the config as the alert texts spell them. */

const exact = (value: number): number => Number(value.toPrecision(12));

/** 0.05 → "5 %". */
export const percent = (ratio: number): string => `${exact(ratio * 100)} %`;

/** 0.25 → "250ms", as Prometheus' humanizeDuration writes sub-second values. */
export const milliseconds = (seconds: number): string => `${exact(seconds * 1000)}ms`;

const UNITS = [
  ['week', 604_800],
  ['day', 86_400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
] as const;

function largestUnit(seconds: number): readonly [string, number] {
  const [unit, size] = UNITS.find(([, size]) => seconds % size === 0) ?? ['second', 1];
  return [unit, seconds / size];
}

/** '10m' → "10 minutes", '1m' → "a minute", 300 → "5 minutes". */
export function spelled(duration: string | number): string {
  const [unit, count] = largestUnit(typeof duration === 'number' ? duration : durationSeconds(duration));
  return count === 1 ? `a ${unit}` : `${count} ${unit}s`;
}

/** '30d' → "30-day". */
export function adjective(duration: string): string {
  const [unit, count] = largestUnit(durationSeconds(duration));
  return `${count}-${unit}`;
}

/** Sum of durations, spelled: ('15m', '5m') → "20 minutes". */
export const spelledSum = (...durations: string[]): string =>
  spelled(durations.reduce((total, duration) => total + durationSeconds(duration), 0));

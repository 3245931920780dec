import type { BenchOptions } from './options.js';
import type { ServerProcess } from './lib/proc.js';

export interface Context {
  readonly options: BenchOptions;
  readonly resultsDir: string;
  readonly profilesDir: string;
  /** `YYYY-MM-DD` (plus `-smoke` in smoke mode): the name of this run's result files. */
  readonly stamp: string;
  log(message: string): void;
  /** Registers a server so it is stopped whatever happens. */
  track(server: ServerProcess): void;
  stop(server: ServerProcess): Promise<void>;
}

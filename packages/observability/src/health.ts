import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, type HealthCheckResult, type HealthIndicatorFunction, HealthIndicatorService } from '@nestjs/terminus';

/** A readiness check: resolves with details when the dependency is usable, rejects when it is not. */
export type ReadinessCheck = () => Promise<Record<string, unknown> | undefined>;

/** Longest one readiness check may take before it counts as down: a hung dependency must not hang the probe. */
const CHECK_TIMEOUT_MS = 2000;

export interface HealthResponse {
  readonly status: number;
  readonly body: HealthCheckResult | Record<string, unknown>;
}

/**
 * The application registers its dependencies here (database, queue backend…); `/health/ready`
 * reports each one through @nestjs/terminus. Liveness checks nothing but the process itself, so a
 * dependency outage makes the instance unready, never restarted.
 */
@Injectable()
export class HealthRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();
  private shuttingDown = false;

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
  ) {}

  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** From now on readiness answers 503, so load balancers drain this instance before it stops. */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  live(): Promise<HealthResponse> {
    return this.run([]);
  }

  ready(): Promise<HealthResponse> {
    const indicators: HealthIndicatorFunction[] = [...this.checks].map(
      ([name, check]) =>
        () =>
          this.indicate(name, check),
    );
    if (this.shuttingDown) {
      indicators.unshift(async () => this.indicators.check('lifecycle').down({ state: 'shutting_down' }));
    }
    return this.run(indicators);
  }

  private async indicate(name: string, check: ReadinessCheck) {
    const indicator = this.indicators.check(name);
    let timer: NodeJS.Timeout | undefined;
    try {
      const details = await Promise.race([
        check(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
        }),
      ]);
      return indicator.up(details ?? {});
    } catch (error) {
      return indicator.down({ message: error instanceof Error ? error.message : String(error) });
    } finally {
      clearTimeout(timer);
    }
  }

  private async run(indicators: HealthIndicatorFunction[]): Promise<HealthResponse> {
    try {
      return { status: 200, body: await this.health.check(indicators) };
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        return { status: 503, body: error.getResponse() as Record<string, unknown> };
      }
      throw error;
    }
  }
}

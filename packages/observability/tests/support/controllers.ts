import {
  All,
  type ArgumentsHost,
  Body,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  Header,
  HttpException,
  Param,
  Post,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

/** Thrown by `GET /custom`; only `TeapotFilter` knows how to answer it (with 418). */
export class CustomDomainError extends Error {}

/** A small deferred, so a test can hold a handler and let it go when it has seen what it wanted. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Holds `GET /slow` requests: `entered` resolves when a request reaches the handler, which then
 * waits until `release()` is called or 500 ms have passed, whichever comes first.
 */
export class SlowGate {
  entered = deferred();
  /** Resolves when the handler has returned (Nest then tries to write its answer). */
  returned = deferred();
  private releaseGate = deferred();

  reset(): void {
    this.entered = deferred();
    this.returned = deferred();
    this.releaseGate = deferred();
  }

  release(): void {
    this.releaseGate.resolve();
  }

  async hold(): Promise<void> {
    this.entered.resolve();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.releaseGate.promise, new Promise<void>((r) => (timer = setTimeout(r, 500)))]);
    clearTimeout(timer);
    setImmediate(() => this.returned.resolve());
  }
}

export const slowGate = new SlowGate();

@Controller()
export class ItemsController {
  @Get('items/:id')
  item(@Param('id') id: string) {
    return { id };
  }

  @Post('items')
  create(@Body() body: unknown) {
    return { received: body };
  }

  @Get('boom')
  boom(): never {
    throw new Error('kaboom');
  }

  @Get('teapot')
  teapot(): never {
    throw new HttpException("I'm a teapot", 418);
  }

  @Get('custom')
  custom(): never {
    throw new CustomDomainError('only the filter knows the status');
  }

  @Get('slow')
  async slow() {
    await slowGate.hold();
    return { slow: true };
  }

  /** Answers with a request id header of its own, which the instrumentation must leave alone. */
  @Get('own-id')
  @Header('x-request-id', 'set-by-the-app')
  ownId() {
    return { own: true };
  }

  @All('any')
  any() {
    return { any: true };
  }
}

/** A global filter that turns `CustomDomainError` into 418, written through the adapter (works on both). */
@Catch(CustomDomainError)
export class TeapotFilter implements ExceptionFilter {
  constructor(private readonly host: HttpAdapterHost) {}

  catch(_error: CustomDomainError, context: ArgumentsHost): void {
    const res = context.switchToHttp().getResponse();
    this.host.httpAdapter.reply(res, { statusCode: 418, message: 'filtered' }, 418);
  }
}

import type { PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { ValidationFailed } from './errors.js';

/** Validates one request part with a zod schema; a failure is a 400 naming each field. */
export class ZodPipe<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  constructor(
    private readonly schema: S,
    /** Field name for a schema of a single value (a path parameter). */
    private readonly field?: string,
  ) {}

  transform(value: unknown): z.output<S> {
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    throw new ValidationFailed(
      result.error.issues.map((issue) => ({
        field: issue.path.length > 0 ? issue.path.join('.') : (this.field ?? 'body'),
        message: issue.message,
      })),
    );
  }
}

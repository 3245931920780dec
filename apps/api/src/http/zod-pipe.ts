import type { PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { type FieldProblem, ValidationFailed } from './errors.js';

/**
 * Strings JSON and URLs can carry but the database cannot store faithfully: PostgreSQL rejects
 * U+0000 in text (which surfaced as a 500), and an unpaired surrogate is silently replaced by
 * U+FFFD on its way to UTF-8, so what was stored would differ from what was accepted.
 */
/** In Unicode mode a well-paired surrogate is one code point, so this matches unpaired halves only. */
const UNPAIRED_SURROGATE = /\p{Cs}/u;

function unstorableText(value: unknown): FieldProblem[] {
  const problems: FieldProblem[] = [];
  // Iterative: a validated value is shallow today, but a schema may one day pass nested input through.
  const stack: { path: string[]; value: unknown }[] = [{ path: [], value }];
  while (stack.length > 0) {
    const item = stack.pop() as { path: string[]; value: unknown };
    if (typeof item.value === 'string') {
      if (item.value.includes('\u0000') || UNPAIRED_SURROGATE.test(item.value)) {
        problems.push({ field: item.path.join('.'), message: 'expected text without NUL characters or unpaired surrogates' });
      }
    } else if (item.value !== null && typeof item.value === 'object') {
      for (const [key, child] of Object.entries(item.value)) stack.push({ path: [...item.path, key], value: child });
    }
  }
  return problems;
}

/** Validates one request part with a zod schema; a failure is a 400 naming each field. */
export class ZodPipe<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  constructor(
    /** Public for the OpenAPI document, which describes each route's input from it. */
    readonly schema: S,
    /** Field name for a schema of a single value (a path parameter). */
    private readonly field?: string,
  ) {}

  transform(value: unknown): z.output<S> {
    const result = this.schema.safeParse(value);
    if (!result.success) {
      throw new ValidationFailed(
        result.error.issues.map((issue) => ({
          field: issue.path.length > 0 ? issue.path.join('.') : (this.field ?? 'body'),
          message: issue.message,
        })),
      );
    }
    // Checked on the validated output only: unknown input is rejected or dropped by the schema.
    const unstorable = unstorableText(result.data);
    if (unstorable.length > 0) {
      throw new ValidationFailed(unstorable.map((p) => ({ ...p, field: p.field || (this.field ?? 'body') })).reverse());
    }
    return result.data;
  }
}

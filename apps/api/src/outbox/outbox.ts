import type { Queryable } from '../database/database.js';
import { currentTraceContext } from '../tracing/spans.js';

/** A message for another system (the email queue), to be handed over once the transaction that wrote it commits. */
export interface OutboxMessage<T = unknown> {
  /** Which handler of the relay takes it; a relay leaves topics it does not know to instances that do. */
  readonly topic: string;
  readonly payload: T;
}

/**
 * Writes the message with the caller's transaction, so it exists exactly when the change it announces
 * does: a rolled-back user leaves no email behind, a committed one always has its email on the way.
 */
export async function addToOutbox(tx: Queryable, message: OutboxMessage): Promise<void> {
  await tx.query(outboxInsert(1), outboxValues(message));
}

/**
 * The INSERT of one message with its parameters numbered from `first`, for a statement that writes
 * the message beside the change it announces (a data-modifying WITH): one statement is atomic on
 * its own, so the pair commits together without a transaction of several round trips.
 */
export const outboxInsert = (first: number): string =>
  `INSERT INTO outbox (topic, payload, trace_context) VALUES ($${first}, $${first + 1}::jsonb, $${first + 2})`;

/** The values of outboxInsert's three parameters. */
export function outboxValues(message: OutboxMessage): [string, string, string | null] {
  // Serialised here rather than by the driver: node-postgres and PGlite encode objects differently.
  // The trace context is the writer's (NULL when tracing is off), for the relay to continue its trace.
  return [message.topic, JSON.stringify(message.payload), currentTraceContext() ?? null];
}

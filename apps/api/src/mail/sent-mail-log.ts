import type { Queryable } from '../database/database.js';

/**
 * Which messages the mail server has accepted, by message id (the job id). Shared by every instance
 * through the database, so a job run again anywhere (a worker killed after sending and before its
 * acknowledgement, a job handed over twice) finds its message already sent.
 */
export interface SentMailLog {
  wasSent(id: string): Promise<boolean>;
  recordSent(id: string): Promise<void>;
}

export function databaseSentMailLog(db: Queryable): SentMailLog {
  return {
    async wasSent(id) {
      return (await db.query('SELECT 1 FROM sent_emails WHERE message_id = $1', [id])).length > 0;
    },
    async recordSent(id) {
      await db.query('INSERT INTO sent_emails (message_id) VALUES ($1) ON CONFLICT (message_id) DO NOTHING', [id]);
    },
  };
}

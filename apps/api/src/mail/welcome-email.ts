import type { Logger } from 'pino';
import type { JobHandler } from '../queue/email-queue.js';
import type { MailTransport } from './mail-transport.js';
import type { SentMailLog } from './sent-mail-log.js';

/**
 * The email processor: turns a welcome job into a message, at most once per job id as far as the
 * recipient can tell. The message is recorded right after the server accepts it, so a second run of
 * the job skips it; the one gap left is a crash between that acceptance and the record (milliseconds),
 * where the deterministic Message-ID still lets the receiving side recognise the copy.
 */
export function welcomeEmailHandler(transport: MailTransport, sent: SentMailLog, logger: Logger): JobHandler {
  return async (id, data) => {
    let already = false;
    try {
      already = await sent.wasSent(id);
    } catch (error) {
      // Without the log a re-run cannot be recognised; sending risks a rare duplicate, failing the job
      // through a database outage longer than its attempts would lose the email for good.
      logger.warn({ jobId: id, err: (error as Error).message }, 'sent-mail log unreachable, sending without the duplicate check');
    }
    if (already) {
      logger.info({ jobId: id }, 'welcome email already sent by an earlier run of this job, not sending it again');
      return;
    }
    await transport.send({
      id,
      to: data.email,
      subject: `Welcome, ${data.name}`,
      text: `Hello ${data.name},\n\nyour account (${data.userId}) is ready.\n`,
    });
    try {
      await sent.recordSent(id);
    } catch (error) {
      // The message is out: failing the job now would only make a retry send it again.
      logger.warn(
        { jobId: id, err: (error as Error).message },
        'welcome email sent but not recorded; a re-run of this job would send it again',
      );
    }
  };
}

import type { JobHandler } from '../queue/email-queue.js';
import type { MailTransport } from './mail-transport.js';

/** The email processor: turns a welcome job into a message. The job id keys the message, so a retry re-sends the same one. */
export function welcomeEmailHandler(transport: MailTransport): JobHandler {
  return async (id, data) => {
    await transport.send({
      id,
      to: data.email,
      subject: `Welcome, ${data.name}`,
      text: `Hello ${data.name},\n\nyour account (${data.userId}) is ready.\n`,
    });
  };
}

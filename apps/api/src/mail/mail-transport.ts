import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import nodemailer from 'nodemailer';

export interface MailMessage {
  /** Stable per logical message (the job id): a retried send is recognised, not sent twice. */
  readonly id: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** Sends mail. SMTP in production, a mailbox directory in development; chosen once at start-up. */
export interface MailTransport {
  readonly kind: 'smtp' | 'dev';
  send(message: MailMessage): Promise<void>;
  close(): void;
}

export const MAIL_TRANSPORT = Symbol('MAIL_TRANSPORT');

export class RejectedRecipientError extends Error {
  constructor(to: string) {
    super(`recipient domain is reserved and cannot receive mail (${to.slice(to.lastIndexOf('@'))})`);
    this.name = 'RejectedRecipientError';
  }
}

/** RFC 2606 reserves `.invalid`: no such address can exist, so sending to one is refused up front. */
function assertDeliverable(to: string): void {
  if (/\.invalid$/i.test(to.trim())) throw new RejectedRecipientError(to);
}

const messageId = (id: string) => `<${id.replace(/[^A-Za-z0-9._-]/g, '_')}@obsnest.local>`;

export function createSmtpTransport(url: string, from: string): MailTransport {
  const transporter = nodemailer.createTransport(url);
  return {
    kind: 'smtp',
    async send(message) {
      assertDeliverable(message.to);
      await transporter.sendMail({ from, to: message.to, subject: message.subject, text: message.text, messageId: messageId(message.id) });
    },
    close: () => transporter.close(),
  };
}

/**
 * Writes each message as an .eml file named after its id, so a developer can open what was sent
 * and a retried job overwrites its own file rather than sending a second message.
 */
export function createDevTransport(dataDir: string, from: string): MailTransport {
  const dir = resolve(dataDir, 'mail');
  const transporter = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    kind: 'dev',
    async send(message) {
      assertDeliverable(message.to);
      const info = await transporter.sendMail({
        from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        messageId: messageId(message.id),
      });
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `${message.id.replace(/[^A-Za-z0-9._-]/g, '_')}.eml`), info.message as Buffer);
    },
    close: () => transporter.close(),
  };
}

import type { MailTransport } from '../mail/mail-transport.js';
import { inSpan, SpanKind } from './spans.js';

/** A client span around each send (SMTP, or the development mailbox); applied only when tracing is on. */
export function tracedMailTransport(mail: MailTransport): MailTransport {
  const name = mail.kind === 'smtp' ? 'smtp send' : 'mailbox write';
  return {
    kind: mail.kind,
    send: (message) =>
      inSpan(name, { kind: SpanKind.CLIENT, attributes: { 'mail.transport': mail.kind, 'mail.message_id': message.id } }, () =>
        mail.send(message),
      ),
    close: () => mail.close(),
  };
}

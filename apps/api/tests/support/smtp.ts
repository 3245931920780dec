import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

export interface TestSmtp {
  readonly url: string;
  readonly received: ReceivedMail[];
  /** Messages whose DATA has started but is not acknowledged yet. */
  inFlight: number;
  close(): Promise<void>;
}

/** A real SMTP server (smtp-server, nodemailer's sibling) on loopback; `delayMs` holds each message before accepting it. */
export async function startSmtp(delayMs = 0): Promise<TestSmtp> {
  const received: ReceivedMail[] = [];
  const state = { inFlight: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      state.inFlight++;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        setTimeout(() => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          state.inFlight--;
          callback();
        }, delayMs);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as { port: number };
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    get inFlight() {
      return state.inFlight;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

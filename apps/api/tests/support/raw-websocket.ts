import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface Frame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Buffer;
}

export interface FrameOptions {
  fin?: boolean;
  /** RSV1–3 bits, 0–7. */
  rsv?: number;
  /** Clients must mask; false sends a frame the server must refuse. */
  mask?: boolean;
  /** Announced payload length, when it should lie about the real one. */
  length?: number;
}

export const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** Encodes one client frame, valid or not, exactly as told. */
export function encodeFrame(opcode: number, payload: Buffer | string, options: FrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const length = options.length ?? data.length;
  const mask = options.mask ?? true;
  const head: number[] = [((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | (opcode & 0x0f)];
  let extended = Buffer.alloc(0);
  if (length < 126) head.push((mask ? 0x80 : 0) | length);
  else if (length < 0x10000) {
    head.push((mask ? 0x80 : 0) | 126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(length);
  } else {
    head.push((mask ? 0x80 : 0) | 127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(BigInt(length));
  }
  if (!mask) return Buffer.concat([Buffer.from(head), extended, data]);
  const key = randomBytes(4);
  const masked = Buffer.from(data);
  for (let i = 0; i < masked.length; i++) masked[i] ^= key[i % 4];
  return Buffer.concat([Buffer.from(head), extended, key, masked]);
}

/**
 * A WebSocket client on a bare TCP socket, so that frames the `ws` client would never send
 * (bad opcodes, unmasked frames, lying lengths, invalid UTF-8) can be sent.
 */
export class RawWebSocket {
  readonly frames: Frame[] = [];
  /** Resolves when the TCP connection is gone, with the close code the server sent, if any. */
  readonly closed: Promise<number | undefined>;
  private buffer = Buffer.alloc(0);
  private closeCode: number | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve(this.closeCode)));
    socket.on('error', () => undefined);
  }

  /** Opens `path` (e.g. `/socket.io/?EIO=4&transport=websocket`) and waits for the 101. */
  static open(url: string, path: string, timeoutMs = 5000): Promise<RawWebSocket> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('WebSocket handshake timed out'));
      }, timeoutMs);
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        clearTimeout(timer);
        const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
        if (!statusLine.startsWith('HTTP/1.1 101')) {
          socket.destroy();
          reject(new Error(`handshake refused: ${statusLine}`));
          return;
        }
        const ws = new RawWebSocket(socket);
        socket.on('data', (d: Buffer) => ws.onData(d));
        ws.onData(head.subarray(end + 4));
        resolve(ws);
      };
      socket.on('data', onData);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  }

  send(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  text(payload: string): void {
    this.send(encodeFrame(OPCODE.text, payload));
  }

  /** The text payloads received so far. */
  texts(): string[] {
    return this.frames.filter((f) => f.opcode === OPCODE.text).map((f) => f.payload.toString('utf8'));
  }

  /** Waits until a received text frame satisfies `match`. */
  async waitForText(match: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.texts().find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline || this.socket.destroyed) throw new Error(`no matching frame; got ${JSON.stringify(this.texts())}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.buffer.length < 2) break;
      const fin = (this.buffer[0] & 0x80) !== 0;
      const opcode = this.buffer[0] & 0x0f;
      let length = this.buffer[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) break;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) break;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) break;
      const payload = this.buffer.subarray(offset, offset + length);
      this.buffer = this.buffer.subarray(offset + length);
      this.frames.push({ fin, opcode, payload });
      if (opcode === OPCODE.close) {
        if (payload.length >= 2) this.closeCode = payload.readUInt16BE(0);
        // Completes the closing handshake as a browser would; the server then drops the TCP connection.
        this.send(encodeFrame(OPCODE.close, payload.subarray(0, 2)));
        this.socket.end();
      }
    }
    for (const wake of this.waiters.splice(0)) wake();
  }
}

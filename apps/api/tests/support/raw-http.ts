import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** What a raw exchange produced: a parsed response, or how the connection ended without one. */
export type RawOutcome =
  | { readonly kind: 'response'; readonly response: RawResponse }
  | { readonly kind: 'closed'; readonly bytes: number }
  | { readonly kind: 'reset'; readonly error: string }
  | { readonly kind: 'timeout'; readonly bytes: number };

function decodeChunked(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** Parses one HTTP/1.1 response; undefined while it is still incomplete. */
export function parseResponse(data: Buffer, method: string): RawResponse | undefined {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const [statusLine, ...lines] = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine.slice(0, 100))}`);
  const status = Number(match[1]);
  // An interim answer (100 Continue) precedes the real one.
  if (status >= 100 && status < 200 && status !== 101) return parseResponse(data.subarray(headEnd + 4), method);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const rest = data.subarray(headEnd + 4);
  const noBody = method === 'HEAD' || status === 204 || status === 304 || status === 101;
  if (noBody) return { status, headers, body: '' };
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    if (rest.indexOf('0\r\n\r\n') < 0) return undefined;
    return { status, headers, body: decodeChunked(rest).toString('utf8') };
  }
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (rest.length < length) return undefined;
    return { status, headers, body: rest.subarray(0, length).toString('utf8') };
  }
  // Neither length nor chunking: the body runs until the server closes, which the caller detects.
  return undefined;
}

/**
 * Sends bytes exactly as given over a fresh TCP connection and reads one response. Needed where
 * fetch would refuse or normalise the request (dot segments, invalid bytes, odd methods).
 */
export function rawRequest(url: string, request: string | Buffer, method = 'GET', timeoutMs = 10_000): Promise<RawOutcome> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (outcome: RawOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle({ kind: 'timeout', bytes: size }), timeoutMs);
    const tryParse = (final: boolean) => {
      const data = Buffer.concat(chunks);
      let parsed: RawResponse | undefined;
      try {
        parsed = parseResponse(data, method);
      } catch (error) {
        settle({ kind: 'reset', error: String(error) });
        return;
      }
      if (parsed) settle({ kind: 'response', response: parsed });
      else if (final) {
        const headEnd = data.indexOf('\r\n\r\n');
        if (headEnd < 0) settle({ kind: 'closed', bytes: size });
        else {
          // A response delimited by the connection closing.
          const head = parseResponse(data.subarray(0, headEnd + 4), 'HEAD');
          if (!head) settle({ kind: 'closed', bytes: size });
          else settle({ kind: 'response', response: { ...head, body: data.subarray(headEnd + 4).toString('utf8') } });
        }
      }
    };
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      tryParse(false);
    });
    socket.on('end', () => tryParse(true));
    socket.on('close', () => tryParse(true));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may answer and close while a large request is still being written: keep the answer.
      if (chunks.length > 0) tryParse(true);
      settle({ kind: 'reset', error: error.code ?? error.message });
    });
    socket.write(request);
  });
}

/** Builds a request with `Connection: close`; `headers` go out verbatim, in order. */
export function buildRequest(
  method: string,
  target: string,
  headers: readonly (readonly [string, string])[] = [],
  body?: string | Buffer,
): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  if (body !== undefined && !headers.some(([name]) => /^(content-length|transfer-encoding)$/i.test(name))) {
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  }
  // UTF-8 so that odd characters in a target or header go out as the bytes a client would send.
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
  return body === undefined ? head : Buffer.concat([head, typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);
}

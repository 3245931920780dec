/** Small loopback HTTP helpers for the harness (scrapes, fixtures, checks). */
import { request } from 'node:http';

export interface TextResponse {
  status: number;
  body: string;
  bytes: number;
  ms: number;
}

export function httpText(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<TextResponse> {
  const target = new URL(url);
  if (!target.hostname.startsWith('127.')) return Promise.reject(new Error(`loopback only: ${url}`));
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = request(target, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buffer = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, body: buffer.toString('utf8'), bytes: buffer.length, ms: performance.now() - start });
      });
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Samples (lines that are neither comments nor empty) in a Prometheus exposition. */
export function seriesCount(exposition: string): number {
  let n = 0;
  for (const line of exposition.split('\n')) if (line !== '' && !line.startsWith('#')) n++;
  return n;
}

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { extname, join, normalize, sep } from 'node:path';
import { type PersesDashboard, summaryOf } from './dashboards.js';
import { type Routing, SOURCES, type Source, sourceFor } from './routing.js';

export interface ViewerOptions {
  /** Prometheus' base URL, e.g. http://127.0.0.1:9090; `/api/v1/*` is forwarded there. */
  readonly prometheusUrl: string;
  /**
   * The long-term store's Prometheus query API, and Prometheus' retention: `/api/v1/*` requests
   * reading further back than that go to the store (routing.ts). `/source/<prometheus|long-term>/api/v1/*`
   * go where they say, for a user who picks one.
   */
  readonly routing?: Routing;
  /** The bundle: index.html and assets/ (build/bundle.ts). */
  readonly publicDir: string;
  readonly dashboards: readonly PersesDashboard[];
  /** Prometheus' scrape interval: the minimum query step, and the base of `$__rate_interval`. */
  readonly scrapeInterval: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

// Hop-by-hop headers are the proxy's own business (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

function sendFile(response: ServerResponse, path: string, cache: string): void {
  response.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
    'content-length': statSync(path).size,
    'cache-control': cache,
  });
  createReadStream(path).pipe(response);
}

/** The header that says which backend answered, for whoever wonders why a panel shows what it shows. */
export const SOURCE_HEADER = 'x-obsnest-source';

const NAMES: Readonly<Record<Source, string>> = { prometheus: 'Prometheus', 'long-term': 'The long-term store' };

/** A query in a form body is read before it is forwarded: where it goes depends on its time range. */
const MAX_BODY_BYTES = 1024 * 1024;

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Forwards a Prometheus API request to `baseUrl` with its method, query and body, so the page needs
 * no CORS and the backends can stay on loopback. An unreachable backend is answered in Prometheus'
 * own error format (status 502), which the Perses panels show as the panel's error.
 */
function forward(request: IncomingMessage, response: ServerResponse, source: Source, baseUrl: string, apiPath: string, body: Buffer): void {
  const base = new URL(baseUrl);
  const target = new URL(`${base.pathname.replace(/\/$/, '')}${apiPath}`, base);
  const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
  headers['content-length'] = String(body.length);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const upstream = send(target, { method: request.method, headers, timeout: 60_000 }, (answer) => {
    const forwarded = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
    response.writeHead(answer.statusCode ?? 502, { ...forwarded, [SOURCE_HEADER]: source });
    answer.pipe(response);
  });
  upstream.on('timeout', () => upstream.destroy(new Error('no answer within 60 s')));
  upstream.on('error', (error) => {
    if (response.headersSent) {
      response.destroy(error);
      return;
    }
    sendJson(response, 502, {
      status: 'error',
      errorType: 'unavailable',
      error: `${NAMES[source]} at ${baseUrl} is unreachable: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
    });
  });
  upstream.end(body);
}

/** `/api/v1/*` routed by time range, `/source/<source>/api/v1/*` to that source. */
async function proxy(request: IncomingMessage, response: ServerResponse, options: ViewerOptions, url: URL): Promise<void> {
  const forced = /^\/source\/([^/]+)(\/api\/v1\/.*)$/.exec(url.pathname);
  const apiPath = forced ? (forced[2] as string) : url.pathname;
  const longTermUrl = options.routing?.longTermUrl;
  if (forced && !SOURCES.includes(forced[1] as Source)) {
    return sendJson(response, 404, { status: 'error', errorType: 'not_found', error: `no source ${forced[1]}: ${SOURCES.join(' or ')}` });
  }
  if (forced?.[1] === 'long-term' && !longTermUrl) {
    return sendJson(response, 404, {
      status: 'error',
      errorType: 'not_found',
      error: 'no long-term store is configured (--long-term-url)',
    });
  }
  const body = await readBody(request);
  if (body === undefined) return sendJson(response, 413, { status: 'error', errorType: 'bad_data', error: 'request body over 1 MiB' });
  let source = forced?.[1] as Source | undefined;
  if (!source && options.routing) {
    const params = new URLSearchParams(url.search);
    if (/^application\/x-www-form-urlencoded\b/.test(request.headers['content-type'] ?? '')) {
      for (const [name, value] of new URLSearchParams(body.toString('utf8'))) params.append(name, value);
    }
    source = sourceFor(apiPath, params, options.routing);
  }
  source ??= 'prometheus';
  const baseUrl = source === 'long-term' ? (longTermUrl as string) : options.prometheusUrl;
  forward(request, response, source, baseUrl, `${apiPath}${url.search}`, body);
}

/** The viewer's HTTP server: the page, the dashboards as JSON, the Prometheus proxy, /healthz. */
export function createViewerServer(options: ViewerOptions): Server {
  const byUid = new Map(options.dashboards.map((dashboard) => [dashboard.metadata.name, dashboard]));
  const indexHtml = join(options.publicDir, 'index.html');
  const assetsDir = join(options.publicDir, 'assets');
  if (!existsSync(indexHtml)) throw new Error(`no bundle in ${options.publicDir}: run the viewer's bundle step first`);

  return createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://viewer');
    const path = url.pathname;
    if (path.startsWith('/api/v1/') || path.startsWith('/source/')) {
      proxy(request, response, options, url).catch((error: Error) => {
        if (response.headersSent) response.destroy(error);
        else sendJson(response, 500, { status: 'error', errorType: 'internal', error: error.message });
      });
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendJson(response, 405, { error: `${request.method} not allowed` });
    if (path === '/healthz') return sendJson(response, 200, { status: 'ok', dashboards: byUid.size });
    if (path === '/viewer/config') {
      return sendJson(response, 200, {
        prometheusUrl: options.prometheusUrl,
        scrapeInterval: options.scrapeInterval,
        ...(options.routing?.longTermUrl
          ? { longTermUrl: options.routing.longTermUrl, longTermAfterSeconds: options.routing.longTermAfterSeconds }
          : {}),
      });
    }
    if (path === '/viewer/dashboards') return sendJson(response, 200, options.dashboards.map(summaryOf));
    if (path.startsWith('/viewer/dashboards/')) {
      const dashboard = byUid.get(decodeURIComponent(path.slice('/viewer/dashboards/'.length)));
      return dashboard ? sendJson(response, 200, dashboard) : sendJson(response, 404, { error: 'no such dashboard' });
    }
    if (path.startsWith('/assets/')) {
      const file = normalize(join(assetsDir, decodeURIComponent(path.slice('/assets/'.length))));
      if (!file.startsWith(assetsDir + sep) || !existsSync(file) || !statSync(file).isFile()) {
        return sendJson(response, 404, { error: 'not found' });
      }
      // File names of fonts carry a content hash; app.js/app.css change with every bundle.
      return sendFile(response, file, /-[A-Z0-9]{8}\./.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache');
    }
    if (path === '/' || /^\/d\/[^/]+\/?$/.test(path)) {
      if (path.startsWith('/d/') && !byUid.has(decodeURIComponent(path.split('/')[2] as string))) {
        response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        return response.end(`no dashboard ${path.slice(3)}; the list is at /\n`);
      }
      return sendFile(response, indexHtml, 'no-cache');
    }
    return sendJson(response, 404, { error: 'not found' });
  });
}

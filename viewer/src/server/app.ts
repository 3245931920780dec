import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { extname, join, normalize, sep } from 'node:path';
import { type PersesDashboard, summaryOf } from './dashboards.js';

export interface ViewerOptions {
  /** Prometheus' base URL, e.g. http://127.0.0.1:9090; `/api/v1/*` is forwarded there. */
  readonly prometheusUrl: string;
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

/**
 * Forwards `/api/v1/*` to Prometheus with its method, query and body, so the page needs no CORS
 * and Prometheus can stay on loopback. An unreachable Prometheus is answered in Prometheus' own
 * error format (status 502), which the Perses panels show as the panel's error.
 */
function proxy(request: IncomingMessage, response: ServerResponse, prometheusUrl: string): void {
  const base = new URL(prometheusUrl);
  const target = new URL(`${base.pathname.replace(/\/$/, '')}${request.url ?? ''}`, base);
  const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const upstream = send(target, { method: request.method, headers, timeout: 60_000 }, (answer) => {
    const forwarded = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
    response.writeHead(answer.statusCode ?? 502, forwarded);
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
      error: `Prometheus at ${prometheusUrl} is unreachable: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
    });
  });
  request.pipe(upstream);
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
    if (path.startsWith('/api/v1/')) return proxy(request, response, options.prometheusUrl);
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendJson(response, 405, { error: `${request.method} not allowed` });
    if (path === '/healthz') return sendJson(response, 200, { status: 'ok', dashboards: byUid.size });
    if (path === '/viewer/config') {
      return sendJson(response, 200, { prometheusUrl: options.prometheusUrl, scrapeInterval: options.scrapeInterval });
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

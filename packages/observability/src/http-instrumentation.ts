import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { UNMATCHED_ROUTE } from './contract.js';
import { AppMetrics } from './metrics.js';

/** What the application learns about each finished request (for access logs). */
export interface FinishedRequest {
  readonly method: string;
  readonly route: string;
  readonly statusCode: number;
  readonly seconds: number;
  readonly requestId: string;
  /** The response was cut off before it was complete (client went away): counted with status 499. */
  readonly aborted: boolean;
  readonly url: string;
}

export interface HttpInstrumentationOptions {
  /** Route templates that are not counted (default: the metrics and health endpoints). */
  excludeRoutes: readonly string[];
  /** Records metrics; off when instrumentation is disabled, while request ids and logs stay on. */
  metrics: AppMetrics | undefined;
  /** Header carrying the request id in and out. */
  requestIdHeader: string;
  onFinished?: (request: FinishedRequest) => void;
}

/**
 * Status recorded for a response the client abandoned before it was sent in full.
 * Borrowed from nginx: there is no real status, and leaving such requests uncounted would hide
 * exactly the slow requests that made clients give up.
 */
export const CLIENT_CLOSED_REQUEST = 499;

const REQUEST_ID = Symbol.for('obsnest.requestId');
/** Incoming ids are echoed in logs and headers, so only short, plain ones are trusted. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

type RawRequest = IncomingMessage & { [REQUEST_ID]?: string };

/** The request id of a raw Node request, an Express request, or a Fastify request (`.raw`). */
export function requestIdOf(req: object): string | undefined {
  const raw = ('raw' in req ? (req as { raw: RawRequest }).raw : req) as RawRequest;
  return raw[REQUEST_ID];
}

function assignRequestId(req: RawRequest, res: ServerResponse, header: string): string {
  const incoming = req.headers[header];
  const id = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  req[REQUEST_ID] = id;
  res.setHeader(header, id);
  return id;
}

/**
 * Watches one response until it closes. The status is read then, after every exception filter
 * has run, which an interceptor cannot see; `close` (not `finish`) also catches aborted responses.
 */
function track(req: RawRequest, res: ServerResponse, options: HttpInstrumentationOptions, routeOf: () => string | undefined): void {
  const start = performance.now();
  const requestId = assignRequestId(req, res, options.requestIdHeader);
  res.once('close', () => {
    // Runs outside any request handler: a throw here would be an uncaught exception that takes
    // the whole process down, so route resolution falls back to UNMATCHED instead.
    let route: string;
    try {
      route = routeOf() ?? UNMATCHED_ROUTE;
    } catch {
      route = UNMATCHED_ROUTE;
    }
    if (options.excludeRoutes.includes(route)) return;
    const seconds = (performance.now() - start) / 1000;
    const aborted = !res.writableFinished;
    const statusCode = aborted ? CLIENT_CLOSED_REQUEST : res.statusCode;
    const method = AppMetrics.methodLabel(req.method);
    options.metrics?.observeHttpRequest(method, route, statusCode, seconds);
    options.onFinished?.({ method, route, statusCode, seconds, requestId, aborted, url: req.url ?? '' });
  });
}

interface ExpressLikeRequest extends RawRequest {
  route?: { path?: unknown };
  baseUrl?: string;
}

interface ExpressRouteLayer {
  route?: { path?: unknown; _handlesMethod?(method: string): boolean };
  match?(path: string): boolean;
}

interface ExpressLikeApp {
  use(handler: (req: ExpressLikeRequest, res: ServerResponse, next: () => void) => void): unknown;
  router?: { stack?: ExpressRouteLayer[] };
}

/**
 * The template of the route a request would have reached. Needed where a global middleware (the
 * JSON body parser, rejecting a malformed or oversized body) answers before Express routes, so that
 * such a 400 or 413 is counted under `/users` as Fastify does, not under UNMATCHED. Returns only
 * registered templates, so it cannot add series.
 */
/**
 * Express' Layer.match also decodes parameters and throws URIError on malformed percent-encoding
 * (`/users/%zz`); such a path did reach that route's pattern, which is what is being asked.
 */
function matches(layer: ExpressRouteLayer, path: string): boolean {
  try {
    return layer.match?.(path) ?? false;
  } catch {
    return true;
  }
}

function routeByPath(app: ExpressLikeApp, method: string | undefined, url: string | undefined): string | undefined {
  const path = (url ?? '/').split('?', 1)[0];
  for (const layer of app.router?.stack ?? []) {
    const template = layer.route?.path;
    if (typeof template !== 'string' || !matches(layer, path)) continue;
    if (layer.route?._handlesMethod?.(method ?? 'GET') ?? true) return template;
  }
  return undefined;
}

/** Express sets `req.route` to the matched route; Nest registers full paths, prefix included. */
export function installOnExpress(app: ExpressLikeApp, options: HttpInstrumentationOptions): void {
  app.use((req, res, next) => {
    track(req, res, options, () => {
      const path = req.route?.path;
      if (typeof path === 'string') return (req.baseUrl ?? '') + path;
      return res.statusCode === 404 ? undefined : routeByPath(app, req.method, req.url);
    });
    next();
  });
}

interface FastifyLikeRequest {
  raw: RawRequest;
  routeOptions?: { url?: string };
  is404?: boolean;
}

interface FastifyLikeReply {
  raw: ServerResponse;
}

interface FastifyLikeInstance {
  addHook(name: 'onRequest', hook: (req: FastifyLikeRequest, reply: FastifyLikeReply, done: () => void) => void): unknown;
}

/** Fastify knows the matched route template as `routeOptions.url`; its 404 handler has none. */
export function installOnFastify(app: FastifyLikeInstance, options: HttpInstrumentationOptions): void {
  app.addHook('onRequest', (request, reply, done) => {
    track(request.raw, reply.raw, options, () => (request.is404 ? undefined : request.routeOptions?.url));
    done();
  });
}

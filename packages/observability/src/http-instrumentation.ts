import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
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

function assignRequestId(req: RawRequest, res: ServerResponse, header: string): void {
  const incoming = req.headers[header];
  const id = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  req[REQUEST_ID] = id;
  res.setHeader(header, id);
}

/** What one installation knows; shared by all its requests. */
interface Tracker {
  readonly options: HttpInstrumentationOptions;
  readonly excluded: ReadonlySet<string>;
  /** The matched route template, read when the response closes; undefined when none matched. */
  routeOf(req: RawRequest, res: ServerResponse): string | undefined;
}

const TRACKER = Symbol('obsnest.tracker');
const STARTED = Symbol('obsnest.started');

type TrackedResponse = ServerResponse<RawRequest> & { [TRACKER]?: Tracker; [STARTED]?: number };

/**
 * Starts watching one response until it closes. The status is read then, after every exception
 * filter has run, which an interceptor cannot see; `close` (not `finish`) also catches aborted
 * responses. The state lives on the response and the listener is one shared function, so a request
 * costs no closure and no `once` wrapper: this runs on every request.
 */
function track(req: RawRequest, res: TrackedResponse, tracker: Tracker): void {
  res[STARTED] = performance.now();
  res[TRACKER] = tracker;
  assignRequestId(req, res, tracker.options.requestIdHeader);
  res.on('close', onResponseClose);
}

function onResponseClose(this: TrackedResponse): void {
  const tracker = this[TRACKER];
  const started = this[STARTED];
  if (tracker === undefined || started === undefined) return;
  const req = this.req;
  // Runs outside any request handler: a throw here would be an uncaught exception that takes
  // the whole process down, so route resolution falls back to UNMATCHED instead.
  let route: string;
  try {
    route = tracker.routeOf(req, this) ?? UNMATCHED_ROUTE;
  } catch {
    route = UNMATCHED_ROUTE;
  }
  if (tracker.excluded.has(route)) return;
  const seconds = (performance.now() - started) / 1000;
  const aborted = !this.writableFinished;
  const statusCode = aborted ? CLIENT_CLOSED_REQUEST : this.statusCode;
  const method = AppMetrics.methodLabel(req.method);
  const { metrics, onFinished } = tracker.options;
  metrics?.observeHttpRequest(method, route, statusCode, seconds);
  onFinished?.({ method, route, statusCode, seconds, requestId: req[REQUEST_ID] ?? '', aborted, url: req.url ?? '' });
}

function tracker(options: HttpInstrumentationOptions, routeOf: Tracker['routeOf']): Tracker {
  return { options, excluded: new Set(options.excludeRoutes), routeOf };
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

/**
 * Express sets `req.route` to the matched route; Nest registers full paths, prefix included.
 * A middleware rather than a server listener because Nest creates Express' HTTP server after the
 * modules, when it is too late to hook it; it is registered first, so it still sees every request.
 */
export function installOnExpress(app: ExpressLikeApp, options: HttpInstrumentationOptions): void {
  const t = tracker(options, (req: ExpressLikeRequest, res) => {
    const path = req.route?.path;
    if (typeof path === 'string') return (req.baseUrl ?? '') + path;
    return res.statusCode === 404 ? undefined : routeByPath(app, req.method, req.url);
  });
  app.use((req, res, next) => {
    track(req, res as TrackedResponse, t);
    next();
  });
}

interface FastifyLikeRequest {
  raw: RawRequest & { [ROUTE_TEMPLATE]?: string };
}

type FastifyHook = (req: FastifyLikeRequest, reply: unknown, done: () => void) => void;

interface FastifyLikeInstance {
  readonly server: Server;
  addHook(name: 'onRoute', hook: (route: { url: string; onRequest?: FastifyHook | FastifyHook[] }) => void): unknown;
}

const ROUTE_TEMPLATE = Symbol('obsnest.routeTemplate');

/**
 * Fastify answers some requests before any hook of its own runs (a malformed URL gets its 400 from
 * the router), so requests are tracked from the HTTP server's `request` event, ahead of Fastify's
 * listener: every response is counted. The route template is stamped on the request by a hook
 * added to each route as it is registered, which knows its template without reading
 * `request.routeOptions` (a getter that builds an object per call); Fastify's 404 handler and its
 * early errors have no such hook, so they count as UNMATCHED.
 */
export function installOnFastify(app: FastifyLikeInstance, options: HttpInstrumentationOptions): void {
  const t = tracker(options, (req: FastifyLikeRequest['raw']) => req[ROUTE_TEMPLATE]);
  app.addHook('onRoute', (route) => {
    const template = route.url;
    const stamp: FastifyHook = (request, _reply, done) => {
      request.raw[ROUTE_TEMPLATE] = template;
      done();
    };
    const existing = route.onRequest;
    route.onRequest = existing === undefined ? [stamp] : [stamp, ...(Array.isArray(existing) ? existing : [existing])];
  });
  app.server.prependListener('request', (req: RawRequest, res: ServerResponse) => track(req, res as TrackedResponse, t));
}

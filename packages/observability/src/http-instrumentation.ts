import { randomFillSync } from 'node:crypto';
import { IncomingMessage, type Server, ServerResponse } from 'node:http';
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

/**
 * A new request id: a random (version 4) UUID. They are formatted 512 at a time, from one
 * `randomFillSync` call into one flat string, and each request takes a slice of it: `randomUUID` builds a
 * string of some twenty parts per call, which Node then flattens again to validate the header. Per
 * id, with the validation: 170 ns against 400 ns (bench/BENCHMARKS.md).
 */
const POOLED_IDS = 512;
const hexDigit = (nibble: number) => '0123456789abcdef'.charCodeAt(nibble);
/** The two hex digits of each byte value: one table read per digit instead of a shift or a mask, and a lookup. */
const HIGH_DIGIT = Uint8Array.from({ length: 256 }, (_, byte) => hexDigit(byte >> 4));
const LOW_DIGIT = Uint8Array.from({ length: 256 }, (_, byte) => hexDigit(byte & 15));
const DASH = 0x2d;
/** Reused for every pool: the ids leave as a copied string, so the bytes can be overwritten next time. */
const randomPool = Buffer.allocUnsafeSlow(16 * POOLED_IDS);
const formattedPool = Buffer.allocUnsafeSlow(36 * POOLED_IDS);
let idPool = '';
let nextPooledId = POOLED_IDS;

/**
 * Unrolled by hand, with the dashes written at fixed offsets: a loop over the 16 bytes that tested
 * for the dash positions took 40 ns per id, this takes 23 (micro-benchmark, bench/BENCHMARKS.md).
 */
function formatUuids(): string {
  const bytes = randomFillSync(randomPool);
  const out = formattedPool;
  const hi = HIGH_DIGIT;
  const lo = LOW_DIGIT;
  for (let b = 0, o = 0; b < bytes.length; b += 16, o += 36) {
    bytes[b + 6] = (bytes[b + 6] & 0x0f) | 0x40; // version 4
    bytes[b + 8] = (bytes[b + 8] & 0x3f) | 0x80; // RFC 9562 variant
    let x = bytes[b];
    out[o] = hi[x];
    out[o + 1] = lo[x];
    x = bytes[b + 1];
    out[o + 2] = hi[x];
    out[o + 3] = lo[x];
    x = bytes[b + 2];
    out[o + 4] = hi[x];
    out[o + 5] = lo[x];
    x = bytes[b + 3];
    out[o + 6] = hi[x];
    out[o + 7] = lo[x];
    out[o + 8] = DASH;
    x = bytes[b + 4];
    out[o + 9] = hi[x];
    out[o + 10] = lo[x];
    x = bytes[b + 5];
    out[o + 11] = hi[x];
    out[o + 12] = lo[x];
    out[o + 13] = DASH;
    x = bytes[b + 6];
    out[o + 14] = hi[x];
    out[o + 15] = lo[x];
    x = bytes[b + 7];
    out[o + 16] = hi[x];
    out[o + 17] = lo[x];
    out[o + 18] = DASH;
    x = bytes[b + 8];
    out[o + 19] = hi[x];
    out[o + 20] = lo[x];
    x = bytes[b + 9];
    out[o + 21] = hi[x];
    out[o + 22] = lo[x];
    out[o + 23] = DASH;
    for (let i = 10, p = o + 24; i < 16; i++, p += 2) {
      x = bytes[b + i];
      out[p] = hi[x];
      out[p + 1] = lo[x];
    }
  }
  return out.toString('latin1');
}

export function newRequestId(): string {
  if (nextPooledId === POOLED_IDS) {
    idPool = formatUuids();
    nextPooledId = 0;
  }
  const start = nextPooledId++ * 36;
  return idPool.slice(start, start + 36);
}

/** The incoming id when it is safe to echo, else a new one; kept on the raw request for `requestIdOf`. */
function assignRequestId(req: RawRequest, header: string): string {
  const incoming = req.headers[header];
  const id = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : newRequestId();
  req[REQUEST_ID] = id;
  return id;
}

/** What one installation knows; shared by all its requests. */
interface Tracker {
  readonly options: HttpInstrumentationOptions;
  readonly excluded: ReadonlySet<string>;
  /** The matched route template, read when the response closes; undefined when none matched. */
  routeOf(req: RawRequest, res: ServerResponse): string | undefined;
}

/**
 * Starts watching one response until it closes. The status is read then, after every exception
 * filter has run, which an interceptor cannot see; `close` (not `finish`) also catches aborted
 * responses. The start time and the tracker travel in the listener's closure: a small young object
 * is cheaper than adding properties to the request and response objects (profiled, bench/BENCHMARKS.md).
 */
function track(req: RawRequest, res: ServerResponse, tracker: Tracker): string {
  const started = performance.now();
  res.on('close', () => finished(req, res, tracker, started));
  return assignRequestId(req, tracker.options.requestIdHeader);
}

function finished(req: RawRequest, res: ServerResponse, tracker: Tracker, started: number): void {
  // Runs outside any request handler: a throw here would be an uncaught exception that takes
  // the whole process down, so route resolution falls back to UNMATCHED instead.
  let route: string;
  try {
    route = tracker.routeOf(req, res) ?? UNMATCHED_ROUTE;
  } catch {
    route = UNMATCHED_ROUTE;
  }
  if (tracker.excluded.has(route)) return;
  const seconds = (performance.now() - started) / 1000;
  const aborted = !res.writableFinished;
  const statusCode = aborted ? CLIENT_CLOSED_REQUEST : res.statusCode;
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

type ExpressHandle = (req: ExpressLikeRequest, res: ServerResponse, next?: unknown) => unknown;

interface ExpressLikeApp {
  handle: ExpressHandle;
  router?: { stack?: ExpressRouteLayer[] };
  /** Express' per-app prototypes of its requests and responses (`app.request`, `app.response`). */
  request?: object;
  response?: object;
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
 * Nest creates Express' HTTP server after the modules, so requests are first tracked by wrapping
 * the application's own entry point (the server calls `app(req, res)`, which calls `app.handle`):
 * that sees every request first, before any middleware, and costs no router layer. Once the server
 * exists, the returned `attach` moves the tracking into the server's request and response classes
 * (see `attachExpressClasses`); the wrapper then only tracks responses those did not create.
 */
export function installOnExpress(app: ExpressLikeApp, options: HttpInstrumentationOptions): (server: Server | undefined) => boolean {
  const t = tracker(options, (req: ExpressLikeRequest, res) => {
    const path = req.route?.path;
    // Nest's routes sit on the app's router (baseUrl ''): the route's own string, no new one per request.
    if (typeof path === 'string') return req.baseUrl ? req.baseUrl + path : path;
    return res.statusCode === 404 ? undefined : routeByPath(app, req.method, req.url);
  });
  const handle = app.handle;
  const header = options.requestIdHeader;
  app.handle = function (this: unknown, req, res, next) {
    if ((res as TrackedByClass)[STARTED] === undefined) res.setHeader(header, track(req, res, t));
    return handle.call(this, req, res, next);
  };
  return (server) => server !== undefined && attachExpressClasses(server, app, t);
}

type TrackedByClass = ServerResponse & { [STARTED]?: number };

/**
 * Express gives every request and response its app's prototypes with `Object.setPrototypeOf`, and
 * V8 gives each object so changed a hidden class of its own: every property read on them in Express,
 * Nest and here then misses its inline caches (measured: no two of 3,000 consecutive responses
 * shared a hidden class). Created by the server with those prototypes already, the objects keep one
 * hidden class and Express' `setPrototypeOf` changes nothing: in the consumer benchmark a bare Nest
 * app on Express took a third of the CPU per request (bench/BENCHMARKS.md). The constructors run
 * Node's own (`IncomingMessage`, `ServerResponse`) on the new object, and the response takes its
 * start time and request id as Fastify's tracked response does; the count is taken at its one
 * `close` emit, through `emit` on the app's response prototype. Only on a server that still has
 * Node's own classes (a server given other classes keeps them, and the wrapper tracks its requests).
 */
function attachExpressClasses(server: Server, app: ExpressLikeApp, tracker: Tracker): boolean {
  const slots = server as unknown as Record<symbol, unknown>;
  const responseKey = slotOf(server, 'ServerResponse');
  const requestKey = slotOf(server, 'IncomingMessage');
  const { request, response } = app;
  if (responseKey === undefined || requestKey === undefined || request === undefined || response === undefined) return false;
  if (slots[responseKey] !== ServerResponse || slots[requestKey] !== IncomingMessage) return false;
  if (!(response instanceof ServerResponse) || !(request instanceof IncomingMessage)) return false;
  const header = tracker.options.requestIdHeader;
  const baseEmit = (response as ServerResponse).emit;
  function ExpressResponse(this: TrackedByClass, req: RawRequest, options?: object) {
    (ServerResponse as unknown as (this: ServerResponse, req: RawRequest, options?: object) => void).call(this, req, options);
    this[STARTED] = performance.now();
    this.setHeader(header, assignRequestId(req, header));
  }
  ExpressResponse.prototype = response;
  function ExpressRequest(this: IncomingMessage, socket: unknown) {
    (IncomingMessage as unknown as (this: IncomingMessage, socket: unknown) => void).call(this, socket);
  }
  ExpressRequest.prototype = request;
  Object.defineProperty(response, 'emit', { value: countedAtClose(baseEmit, tracker), writable: true, configurable: true });
  slots[responseKey] = ExpressResponse;
  slots[requestKey] = ExpressRequest;
  return true;
}

type RoutedResponse = ServerResponse & { [ROUTE_TEMPLATE]?: string };

interface FastifyLikeReply {
  raw: RoutedResponse;
}

type FastifyHandler = (this: unknown, request: unknown, reply: FastifyLikeReply) => unknown;
type FastifyErrorHook = (request: unknown, reply: FastifyLikeReply, error: unknown, done: () => void) => void;

interface FastifyRouteOptions {
  url: string;
  handler: FastifyHandler;
  onError?: FastifyErrorHook | FastifyErrorHook[];
}

interface FastifyLikeInstance {
  readonly server: Server;
  addHook(name: 'onRoute', hook: (route: FastifyRouteOptions) => void): unknown;
}

const ROUTE_TEMPLATE = Symbol('obsnest.routeTemplate');

/**
 * Fastify answers some requests before any hook of its own runs (a malformed URL gets its 400 from
 * the router), so requests are tracked from the HTTP server, ahead of Fastify: every response is
 * counted. The route template is stamped on the response as each route is registered, by code that
 * knows its template without reading `request.routeOptions` (a getter that builds an object per
 * call): its handler, wrapped, stamps it for every request the route handles, and an `onError` hook
 * of the route for those its lifecycle rejects first with an error (a malformed or oversized body,
 * an unsupported media type). Not an `onRequest` hook: any hook of that kind makes Fastify run its
 * hook runner, a closure per request, on every request of the route (paired A/B: 1.2 % of the
 * module's CPU per request), where `onError` hooks run only on errors. A response that a plugin's
 * hook sends before the handler without an error, and Fastify's 404 handler, have no template:
 * UNMATCHED.
 */
export function installOnFastify(app: FastifyLikeInstance, options: HttpInstrumentationOptions): void {
  const t = tracker(options, (_req, res: RoutedResponse) => res[ROUTE_TEMPLATE]);
  app.addHook('onRoute', (route) => {
    const template = route.url;
    const handler = route.handler;
    route.handler = function routed(this: unknown, request, reply) {
      reply.raw[ROUTE_TEMPLATE] = template;
      return handler.call(this, request, reply);
    };
    const stamp: FastifyErrorHook = (_request, reply, _error, done) => {
      reply.raw[ROUTE_TEMPLATE] = template;
      done();
    };
    const existing = route.onError;
    route.onError = existing === undefined ? [stamp] : [stamp, ...(Array.isArray(existing) ? existing : [existing])];
  });
  const header = options.requestIdHeader;
  const server = app.server;
  if (trackWithResponseClass(server, t)) return;
  // Elsewhere (another runtime, a Node without the response class option), a listener ahead of
  // Fastify's does the same per request.
  const ownWriteHead = writeHeadWithRequestId(header);
  const onRequest = (req: RawRequest, res: ServerResponse<RawRequest>) => {
    track(req, res, t);
    res.writeHead = ownWriteHead;
  };
  // Fastify's own handler is the server's one `request` listener; calling it from ours spares Node's
  // emit a second listener (it copies the listener array on every request when there are two).
  const listeners = server.listeners('request') as RequestListener[];
  if (listeners.length === 1) {
    const [fastify] = listeners;
    server.removeListener('request', fastify);
    server.on('request', function (this: Server, req: RawRequest, res: ServerResponse<RawRequest>) {
      onRequest(req, res);
      fastify.call(this, req, res);
    });
  } else {
    server.prependListener('request', onRequest);
  }
}

type RequestListener = (this: Server, req: RawRequest, res: ServerResponse<RawRequest>) => void;

/**
 * The id joins the headers object Fastify hands to `writeHead`. Set earlier with `res.setHeader`,
 * it sent Node down writeHead's slow path (merging Fastify's headers into the progressive ones
 * and validating each again): 10–15 % of a bare Fastify request (bench/BENCHMARKS.md). The
 * listener path's fallback; the response class writes the line itself (`storeHeaderWithRequestId`).
 */
function writeHeadWithRequestId(header: string, original: typeof writeHead = writeHead) {
  return function writeHeadWithId(this: ServerResponse<RawRequest>, statusCode: number, messageOrHeaders?: unknown, more?: unknown) {
    const headers = typeof messageOrHeaders === 'string' ? more : messageOrHeaders;
    const id = this.req[REQUEST_ID] ?? '';
    if (headers !== undefined && headers !== null && !Array.isArray(headers) && typeof headers === 'object') {
      const record = headers as Record<string, unknown>;
      if (record[header] === undefined && !this.hasHeader(header)) record[header] = id;
    } else if (!this.hasHeader(header)) {
      this.setHeader(header, id);
    }
    return original.call(this, statusCode, messageOrHeaders, more);
  } as ServerResponse['writeHead'];
}

/** Node's `OutgoingMessage#_storeHeader(firstLine, headers)`: builds the head of a message from its first line and headers. */
type StoreHeader = (this: ServerResponse, firstLine: string, headers: unknown) => void;

/**
 * Whether the headers Node is about to write already carry `name` (lower case): the object given
 * to `writeHead` (Fastify's, whose keys are lower case), the response's own headers (keyed by
 * lower-cased name), or a raw `[name, value, …]` / `[[name, value], …]` array.
 */
function carriesHeader(headers: unknown, name: string): boolean {
  if (headers === null || typeof headers !== 'object') return false;
  if (!Array.isArray(headers)) return (headers as Record<string, unknown>)[name] !== undefined;
  if (headers.length > 0 && Array.isArray(headers[0])) return headers.some((entry) => String(entry[0]).toLowerCase() === name);
  for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return true;
  return false;
}

/**
 * Writes the id's header line right after the status line, as Node builds the head of the
 * response: an id of ours is a UUID, and an incoming one is echoed only when `SAFE_REQUEST_ID`
 * passed it, so Node's validation of a header name and value has nothing to find. Added through
 * `writeHead`'s headers instead, the line went through that validation (two regular expressions),
 * Node's match against the headers it interprets, and a new property on Fastify's headers object,
 * on every response (bench/BENCHMARKS.md). `_storeHeader` is Node's own (`OutgoingMessage`), as it
 * has been since Node 0.x; where it is missing, `writeHead` adds the header as before.
 */
function storeHeaderWithRequestId(header: string, original: StoreHeader): StoreHeader {
  const prefix = `${header}: `;
  return function _storeHeader(this: ServerResponse<RawRequest>, firstLine, headers) {
    const id = this.req[REQUEST_ID];
    if (id === undefined || carriesHeader(headers, header)) return original.call(this, firstLine, headers);
    return original.call(this, `${firstLine}${prefix}${id}\r\n`, headers);
  };
}

const STARTED = Symbol('obsnest.started');

/**
 * `emit` for a tracked response: counts it at the one `close` Node emits when it ends or its
 * connection drops, if it was started by a tracking constructor. Forwards `arguments` as it is: a
 * rest parameter and a spread built two arrays on every emit (a response emits three or four
 * times), which was the largest item of the module in a Fastify profile.
 */
function countedAtClose(baseEmit: ServerResponse['emit'], tracker: Tracker): ServerResponse['emit'] {
  return function emit(this: TrackedByClass, event: string | symbol): boolean {
    const started = this[STARTED];
    if (event === 'close' && started !== undefined) finished(this.req as RawRequest, this, tracker, started);
    // Node emits a response's own events without arguments: a plain call, no arguments object.
    // biome-ignore lint/complexity/noArguments: only its length is read, see above
    if (arguments.length === 1) return baseEmit.call(this, event);
    // biome-ignore lint/complexity/noArguments: forwarded without copying, see above
    return baseEmit.apply(this, arguments as unknown as [string | symbol, ...unknown[]]);
  };
}

/** The symbol under which Node keeps a server's response class (`kServerResponse`), if it does. */
export function responseClassSlot(server: Server): symbol | undefined {
  return slotOf(server, 'ServerResponse');
}

/** Node keeps the classes given to `http.createServer({ IncomingMessage, ServerResponse })` under symbols named after them. */
function slotOf(server: Server, name: 'IncomingMessage' | 'ServerResponse'): symbol | undefined {
  return Object.getOwnPropertySymbols(server).find((symbol) => symbol.description === name);
}

/**
 * Tracks every response of the server through the class Node creates them with, the
 * `http.createServer({ ServerResponse })` option, which Node keeps under a symbol of the server:
 * the constructor takes the start time and the request id, `_storeHeader` writes the id, and `emit`
 * sees the one `close` Node emits when a response ends or its connection drops. That costs no
 * listener, closure or own property per request, where the listener path cost 2 µs of a 26 µs
 * Fastify request more (bench/BENCHMARKS.md). Returns false where there is no such symbol.
 */
function trackWithResponseClass(server: Server, tracker: Tracker): boolean {
  const slots = server as unknown as Record<symbol, unknown>;
  const key = responseClassSlot(server);
  const Base = key === undefined ? undefined : slots[key];
  if (key === undefined || typeof Base !== 'function' || !(Base === ServerResponse || Base.prototype instanceof ServerResponse))
    return false;
  const header = tracker.options.requestIdHeader;
  // Node calls it as `new (req, { highWaterMark, rejectNonStandardBodyWrites })`; its typings know only `req`.
  const BaseResponse = Base as new (req: RawRequest, options?: object) => ServerResponse<RawRequest>;
  const baseStoreHeader = (BaseResponse.prototype as unknown as { _storeHeader?: StoreHeader })._storeHeader;
  const baseEmit = BaseResponse.prototype.emit;
  class TrackedResponse extends BaseResponse {
    // `declare`: typed only. A class field would be defined once more, as undefined, before the
    // constructor's own store; the constructor creates both, so the route stamp adds no property.
    declare readonly [STARTED]: number;
    declare [ROUTE_TEMPLATE]: string | undefined;
    constructor(req: RawRequest, options?: object) {
      super(req, options);
      this[STARTED] = performance.now();
      this[ROUTE_TEMPLATE] = undefined;
      assignRequestId(req, header);
    }
  }
  if (typeof baseStoreHeader === 'function')
    (TrackedResponse.prototype as unknown as { _storeHeader: StoreHeader })._storeHeader = storeHeaderWithRequestId(
      header,
      baseStoreHeader,
    );
  else
    (TrackedResponse.prototype as ServerResponse).writeHead = writeHeadWithRequestId(
      header,
      BaseResponse.prototype.writeHead as typeof writeHead,
    );
  (TrackedResponse.prototype as ServerResponse).emit = countedAtClose(baseEmit, tracker);
  slots[key] = TrackedResponse;
  return true;
}

/** Node's own, called as `writeHead(status, headers?)` or `writeHead(status, statusMessage, headers?)`. */
const writeHead = ServerResponse.prototype.writeHead as (
  this: ServerResponse,
  statusCode: number,
  a?: unknown,
  b?: unknown,
) => ServerResponse;

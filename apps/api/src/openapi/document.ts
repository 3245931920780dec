import { RequestMethod, type Type } from '@nestjs/common';
import { GUARDS_METADATA, HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { z } from 'zod';
import { RequireJson } from '../http/require-json.guard.js';
import { ZodPipe } from '../http/zod-pipe.js';
import { HIDDEN_FROM_DOC, OPERATION_DOC, type OperationDoc, type ResponseDoc } from './api-operation.js';

type JsonSchema = Record<string, unknown>;

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  schema: JsonSchema;
  description?: string;
}

export interface OpenApiResponse {
  description: string;
  content?: Record<string, { schema: JsonSchema }>;
}

export interface OpenApiOperation {
  operationId: string;
  tags: string[];
  summary?: string;
  description?: string;
  parameters?: OpenApiParameter[];
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, OpenApiResponse>;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonSchema> };
}

export interface DocumentOptions {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
  /** Every controller the application serves; those marked @HiddenFromDoc() are left out. */
  readonly controllers: readonly Type[];
  /** For routes of controllers that are not the app's own (the observability package's), by `GET /path`. */
  readonly externalDocs: Readonly<Record<string, OperationDoc>>;
  /** Schemas named in `components.schemas` and referenced by `$ref` wherever they are used whole. */
  readonly components: Readonly<Record<string, z.ZodType>>;
  /** The error body every error answer has. */
  readonly errorSchema: z.ZodType;
  readonly bodyLimitBytes: number;
  /** Whether write routes answer 429 over the write rate limit. */
  readonly writesRateLimited: boolean;
}

interface RouteArgument {
  readonly index: number;
  readonly data?: unknown;
  readonly pipes?: readonly unknown[];
}

const JSON_TYPE = 'application/json';
const WRITE_METHODS = new Set(['post', 'put', 'patch', 'delete']);

/** `users` + `:id` → `/users/{id}`, as Nest joins a controller's and a handler's paths. */
function openApiPath(base: string, path: string): string {
  const joined = `/${[base, path]
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/')}`;
  return joined.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const pathsOf = (value: unknown): string[] => (Array.isArray(value) ? value : [typeof value === 'string' ? value : '/']);

function zodPipeOf(argument: RouteArgument): ZodPipe<z.ZodType> | undefined {
  return argument.pipes?.find((pipe): pipe is ZodPipe<z.ZodType> => pipe instanceof ZodPipe);
}

class SchemaWriter {
  private readonly names = new Map<z.ZodType, string>();

  constructor(components: Readonly<Record<string, z.ZodType>>) {
    for (const [name, schema] of Object.entries(components)) this.names.set(schema, name);
  }

  /** A whole named schema becomes a `$ref`; anything else is written out, without its `$schema` (the document's dialect applies). */
  write(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
    const name = this.names.get(schema);
    if (name !== undefined) return { $ref: `#/components/schemas/${name}` };
    const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
    return rest;
  }

  /** The named schemas, referring to each other by `$ref`. */
  components(): Record<string, JsonSchema> {
    const registry = z.registry<{ id: string }>();
    for (const [schema, id] of this.names) registry.add(schema, { id });
    const { schemas } = z.toJSONSchema(registry, { io: 'output', uri: (id) => `#/components/schemas/${id}`, unrepresentable: 'any' });
    return Object.fromEntries(
      Object.entries(schemas).map(([id, schema]) => {
        const { $schema: _dialect, $id: _id, ...rest } = schema as JsonSchema;
        return [id, rest];
      }),
    );
  }
}

/** Query properties as parameters: their types as validated, `required` only where no default applies. */
function queryParameters(writer: SchemaWriter, schema: z.ZodType): OpenApiParameter[] {
  const output = writer.write(schema, 'output') as { properties?: Record<string, JsonSchema> };
  const input = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { required?: string[] };
  return Object.entries(output.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property as JsonSchema & { description?: string };
    return { name, in: 'query', required: input.required?.includes(name) ?? false, schema: rest, ...(description ? { description } : {}) };
  });
}

function response(writer: SchemaWriter, doc: ResponseDoc | string, errorSchema: z.ZodType): OpenApiResponse {
  const { description, schema, contentType } =
    typeof doc === 'string' ? { description: doc, schema: errorSchema, contentType: JSON_TYPE } : doc;
  if (schema === undefined) return { description };
  return { description, content: { [contentType ?? JSON_TYPE]: { schema: writer.write(schema, 'output') } } };
}

/**
 * The OpenAPI 3.1 document of the routes the given controllers serve, read from the same metadata
 * Nest routes and validates with: paths and methods from the route decorators, parameter and body
 * schemas from each route's ZodPipe (through zod's own JSON Schema output), statuses from
 * @HttpCode, the guards and the pipes, and the rest from @ApiOperation.
 */
export function buildOpenApiDocument(options: DocumentOptions): OpenApiDocument {
  const writer = new SchemaWriter({ ...options.components, Error: options.errorSchema });
  const paths: OpenApiDocument['paths'] = {};

  for (const controller of options.controllers) {
    if (Reflect.getMetadata(HIDDEN_FROM_DOC, controller) === true) continue;
    const tag = controller.name.replace(/Controller$/, '').replace(/^./, (c) => c.toLowerCase());
    for (const base of pathsOf(Reflect.getMetadata(PATH_METADATA, controller))) {
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = (controller.prototype as Record<string, unknown>)[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const requestMethod = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (requestMethod === undefined) continue;
        const method = RequestMethod[requestMethod].toLowerCase();
        const own = Reflect.getMetadata(OPERATION_DOC, handler) as OperationDoc | undefined;
        const args = Object.entries((Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as Record<string, RouteArgument>);
        const guards = (Reflect.getMetadata(GUARDS_METADATA, handler) ?? []) as unknown[];

        for (const routePath of pathsOf(Reflect.getMetadata(PATH_METADATA, handler))) {
          const path = openApiPath(base, routePath);
          const doc = own ?? options.externalDocs[`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`];

          const parameters: OpenApiParameter[] = [];
          let validated = false;
          let body = false;
          let requestBody: OpenApiOperation['requestBody'];
          for (const [key, argument] of args) {
            const type = Number(key.split(':')[0]);
            const pipe = zodPipeOf(argument);
            validated ||= pipe !== undefined;
            if (type === RouteParamtypes.PARAM && typeof argument.data === 'string') {
              parameters.push({
                name: argument.data,
                in: 'path',
                required: true,
                schema: pipe ? writer.write(pipe.schema, 'input') : { type: 'string' },
              });
            } else if (type === RouteParamtypes.QUERY && pipe) {
              if (typeof argument.data === 'string') {
                parameters.push({
                  name: argument.data,
                  in: 'query',
                  required: !pipe.schema.safeParse(undefined).success,
                  schema: writer.write(pipe.schema, 'output'),
                });
              } else {
                parameters.push(...queryParameters(writer, pipe.schema));
              }
            } else if (type === RouteParamtypes.BODY) {
              body = true;
              requestBody = { required: true, content: { [JSON_TYPE]: { schema: pipe ? writer.write(pipe.schema, 'input') : {} } } };
            }
          }
          // A template parameter no argument reads is still part of the path.
          for (const [, param] of path.matchAll(/\{(\w+)\}/g)) {
            if (!parameters.some((p) => p.in === 'path' && p.name === param))
              parameters.push({ name: param, in: 'path', required: true, schema: { type: 'string' } });
          }

          const status = (Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined) ?? (method === 'post' ? 201 : 200);
          const responses: Record<number, ResponseDoc | string> = {
            [status]: doc?.success ?? { description: 'not described' },
          };
          if (validated) {
            responses[400] = body
              ? 'invalid or unknown fields, or malformed JSON; `details` names each invalid field'
              : 'invalid parameters; `details` names each one';
          }
          if (body) responses[413] = `body over BODY_LIMIT_BYTES (${options.bodyLimitBytes} bytes here)`;
          if (guards.includes(RequireJson)) responses[415] = 'a body that is not application/json';
          if (options.writesRateLimited && WRITE_METHODS.has(method)) {
            responses[429] =
              'over the write rate limit (RATE_LIMIT_WRITES per RATE_LIMIT_WINDOW_MS per client); `Retry-After` says when to retry';
          }
          Object.assign(responses, doc?.errors);
          if (own !== undefined) responses[500] = 'internal error: the body has no details, the log has them under the same request id';

          paths[path] ??= {};
          paths[path][method] = {
            operationId: `${tag}.${name}`,
            tags: [tag],
            ...(doc?.summary ? { summary: doc.summary } : {}),
            ...(doc?.description ? { description: doc.description } : {}),
            ...(parameters.length > 0 ? { parameters } : {}),
            ...(requestBody ? { requestBody } : {}),
            responses: Object.fromEntries(
              Object.entries(responses).map(([code, value]) => [code, response(writer, value, options.errorSchema)]),
            ),
          };
        }
      }
    }
  }

  return {
    openapi: '3.1.0',
    info: { title: options.title, version: options.version, ...(options.description ? { description: options.description } : {}) },
    paths,
    components: { schemas: writer.components() },
  };
}

import { SetMetadata } from '@nestjs/common';
import type { z } from 'zod';

/** One response: its schema (JSON unless `contentType` says otherwise), or none for an empty body. */
export interface ResponseDoc {
  readonly description: string;
  readonly schema?: z.ZodType;
  readonly contentType?: string;
}

/**
 * What a route's metadata cannot tell about it. Everything else (method, path, input schemas from
 * its ZodPipes, success status, the 400/413/415/429 its pipes, guards and body imply) is read from
 * the route itself, so the document cannot drift from what is served.
 */
export interface OperationDoc {
  readonly summary: string;
  readonly description?: string;
  /** The success answer; its status is the route's own (@HttpCode, or Nest's 201 for POST, 200 otherwise). */
  readonly success: ResponseDoc;
  /** Error statuses the handler itself answers; a string is an error body of the common shape. */
  readonly errors?: Readonly<Record<number, string | ResponseDoc>>;
}

export const OPERATION_DOC = 'obsnest:openapi:operation';
export const HIDDEN_FROM_DOC = 'obsnest:openapi:hidden';

/** Describes a route in the OpenAPI document. */
export const ApiOperation = (doc: OperationDoc) => SetMetadata(OPERATION_DOC, doc);

/** Leaves a controller's routes out of the document (the document's own, Swagger UI's). */
export const HiddenFromDoc = () => SetMetadata(HIDDEN_FROM_DOC, true);

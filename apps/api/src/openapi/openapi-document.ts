import { Inject, Injectable, type Type } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { Config } from '../config/config.js';
import { errorBodySchema } from '../http/errors.js';
import { userPageSchema, userSchema } from '../users/user.schemas.js';
import { APP_VERSION } from '../version.js';
import { buildOpenApiDocument, type OpenApiDocument } from './document.js';
import { observabilityDocs } from './observability-docs.js';

export const OPENAPI_CONFIG = Symbol('OPENAPI_CONFIG');

/** The document of every controller this application serves, built once on first request. */
@Injectable()
export class OpenApiDocumentSource {
  private built?: OpenApiDocument;

  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(OPENAPI_CONFIG) private readonly config: Config,
  ) {}

  document(): OpenApiDocument {
    this.built ??= buildOpenApiDocument({
      title: 'Observable NestJS backend',
      version: APP_VERSION,
      description: 'Users REST API. Every error answer has the `Error` shape; `requestId` matches the `x-request-id` header.',
      controllers: [...new Set(this.discovery.getControllers().flatMap((wrapper) => (wrapper.metatype ? [wrapper.metatype as Type] : [])))],
      externalDocs: observabilityDocs(this.config),
      components: { User: userSchema, UserPage: userPageSchema },
      errorSchema: errorBodySchema,
      bodyLimitBytes: this.config.BODY_LIMIT_BYTES,
      writesRateLimited: this.config.RATE_LIMIT_WRITES > 0,
    });
    return this.built;
  }
}

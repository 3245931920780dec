import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { Config } from '../config/config.js';
import { OpenApiController } from './openapi.controller.js';
import { OPENAPI_CONFIG, OpenApiDocumentSource } from './openapi-document.js';
import { SwaggerUiController } from './swagger-ui.controller.js';

/** `/openapi.json` always (it describes the public API); Swagger UI at `/docs` outside production only. */
@Module({})
export class OpenApiModule {
  static forRoot(config: Config): DynamicModule {
    return {
      module: OpenApiModule,
      imports: [DiscoveryModule],
      providers: [{ provide: OPENAPI_CONFIG, useValue: config }, OpenApiDocumentSource],
      controllers: config.NODE_ENV === 'production' ? [OpenApiController] : [OpenApiController, SwaggerUiController],
    };
  }
}

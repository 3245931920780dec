import { Controller, Get } from '@nestjs/common';
import { HiddenFromDoc } from './api-operation.js';
import type { OpenApiDocument } from './document.js';
import { OpenApiDocumentSource } from './openapi-document.js';

@HiddenFromDoc()
@Controller()
export class OpenApiController {
  constructor(private readonly source: OpenApiDocumentSource) {}

  @Get('openapi.json')
  document(): OpenApiDocument {
    return this.source.document();
  }
}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Controller, Get, NotFoundException, Param, StreamableFile } from '@nestjs/common';
import { HiddenFromDoc } from './api-operation.js';

export const DOCS_PATH = '/docs';

/** swagger-ui-dist's folder, found through its manifest: its main module would load the browser bundle into Node. */
const DIST = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/**
 * The page and its start-up script are files, not inline code, so helmet's Content-Security-Policy
 * (`script-src 'self'`) holds for them as for the rest of the API. No validator badge: Swagger UI
 * would otherwise send the document to an outside validation service.
 */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Observable NestJS backend: API</title>
<link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="${DOCS_PATH}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
<script src="${DOCS_PATH}/init.js"></script>
</body>
</html>
`;
const INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

interface Asset {
  readonly type: string;
  readonly body: () => Buffer;
}

const fromDist = (file: string) => () => readFileSync(join(DIST, file));

/** A closed set: `:asset` takes no other value, so neither the file system nor the route metrics see request data. */
const ASSETS: Readonly<Record<string, Asset>> = {
  'init.js': { type: 'text/javascript; charset=utf-8', body: () => Buffer.from(INIT) },
  'swagger-ui.css': { type: 'text/css; charset=utf-8', body: fromDist('swagger-ui.css') },
  'swagger-ui-bundle.js': { type: 'text/javascript; charset=utf-8', body: fromDist('swagger-ui-bundle.js') },
  'favicon-32x32.png': { type: 'image/png', body: fromDist('favicon-32x32.png') },
};

/** Swagger UI over `/openapi.json`, from the swagger-ui-dist package's files (no CDN). Not mounted in production. */
@HiddenFromDoc()
@Controller(DOCS_PATH)
export class SwaggerUiController {
  private readonly cache = new Map<string, Buffer>();

  @Get()
  page(): StreamableFile {
    return new StreamableFile(Buffer.from(PAGE), { type: 'text/html; charset=utf-8' });
  }

  @Get(':asset')
  asset(@Param('asset') name: string): StreamableFile {
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (asset === undefined) throw new NotFoundException(`no such file in ${DOCS_PATH}`);
    let body = this.cache.get(name);
    if (body === undefined) {
      body = asset.body();
      this.cache.set(name, body);
    }
    return new StreamableFile(body, { type: asset.type });
  }
}

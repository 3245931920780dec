import { type CanActivate, type ExecutionContext, Injectable, UnsupportedMediaTypeException } from '@nestjs/common';

const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i;

/**
 * Rejects a request body that is not JSON with 415, on both adapters alike (Fastify would parse
 * form bodies, Express would leave them unparsed and report a confusing 400).
 */
@Injectable()
export class RequireJson implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && !JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      throw new UnsupportedMediaTypeException('expected Content-Type: application/json');
    }
    return true;
  }
}

import { HttpException } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';

/**
 * What a client is told about a body the example refuses, by kind of failure (the `type` names
 * of Express's body-parser, which Fastify's parsers in `fastify-body-parsers.ts` reuse), so both
 * platforms say the same thing.
 */
export const BODY_ERROR_MESSAGES: Readonly<Record<string, string>> = {
  'entity.parse.failed': 'Malformed request body',
  'entity.too.large': 'Request body too large',
  'parameters.too.many': 'Too many form fields',
  'charset.unsupported': 'Unsupported body charset',
  'encoding.unsupported': 'Unsupported content encoding',
  'entity.verify.failed': 'Request body rejected',
  'request.aborted': 'Request aborted',
  'request.size.invalid': 'Request body size does not match Content-Length',
  'stream.encoding.set': 'Malformed request body',
};

/** The message for a body failure of this kind. */
export function bodyErrorMessage(type: unknown): string {
  return (typeof type === 'string' && BODY_ERROR_MESSAGES[type]) || 'Bad request body';
}

/**
 * A refused body, thrown by the Fastify parsers: an HttpException, so Nest's exception handling
 * (which Fastify's parse errors reach) answers it as the Express side does.
 */
export class BodyError extends HttpException {
  constructor(
    status: number,
    readonly type: string,
  ) {
    super({ statusCode: status, error: STATUS_CODES[status] ?? 'Bad Request', message: bodyErrorMessage(type) }, status);
    this.name = 'BodyError';
  }
}

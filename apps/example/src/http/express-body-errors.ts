import type { NextFunction, Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { bodyErrorMessage } from './body-errors';

/**
 * Express error handler for body-parser failures (malformed JSON, oversized bodies, unknown
 * charsets). They happen before Nest's pipeline, so Nest's exception filters never see them and
 * Express would answer with an HTML page (with a stack trace outside production). This answers a
 * JSON 4xx instead. It must be registered right after the body parsers.
 */
export function answerBodyParserErrors(error: unknown, _request: Request, response: Response, next: NextFunction): void {
  const failure = error as { status?: unknown; type?: unknown } | null;
  const status = typeof failure?.status === 'number' ? failure.status : undefined;
  if (status === undefined || status < 400 || status > 499 || response.headersSent) {
    next(error);
    return;
  }
  const message = bodyErrorMessage(failure?.type);
  response.status(status).json({ statusCode: status, error: STATUS_CODES[status] ?? 'Bad Request', message });
}

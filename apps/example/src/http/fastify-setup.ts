import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyBodyParser } from 'fastify';
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { ExampleHttpConfig } from '../config/example-config';
import { BODY_LIMIT_BYTES } from './body-limits';
import { parseFormBody, parseJsonBody } from './fastify-body-parsers';

/**
 * The Fastify server of the example. Proxy trust is fixed when Fastify is created (it decides
 * what `request.ip`, which the login throttle counts by, means), so it is set here, not later.
 */
export function createFastifyAdapter(http: ExampleHttpConfig): FastifyAdapter {
  return new FastifyAdapter({
    trustProxy: http.trustProxy,
    bodyLimit: BODY_LIMIT_BYTES,
    // Fastify answers 414 for a path parameter over 100 characters; a session handle on the
    // sessions page is about 110, and a made-up one must get the route's 404, as on Express.
    routerOptions: { maxParamLength: 1024 },
    clientErrorHandler: answerClientError,
  });
}

/**
 * A request Node's parser refuses (headers over 16 KB, malformed bytes) gets its 431 or 400 and
 * the connection closes after it, as on Express. Fastify's own handler destroys the socket right
 * after writing, which on a reused keep-alive connection can drop the answer: the client sees a
 * hang-up instead of a 4xx.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  // Node's rule: nothing is written into a response that has started already.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy(error);
    return;
  }
  const body = JSON.stringify({ statusCode: status, error: STATUS_CODES[status], message: STATUS_CODES[status] });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/**
 * The example on Fastify: JSON and forms read by the parsers in `fastify-body-parsers.ts`, which
 * accept and refuse what the Express side does, with the example's limits. A body over the limit
 * is 413 and a content type with no parser 415, from Fastify itself.
 */
export function configureFastify(app: NestFastifyApplication): void {
  app.useBodyParser('application/json', { bodyLimit: BODY_LIMIT_BYTES }, bodyParser(parseJsonBody));
  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit: BODY_LIMIT_BYTES }, bodyParser(parseFormBody));
  // Any other type is read (within the limit) and left unparsed, as on Express: the route decides
  // (the login answers 415 with what it accepts) instead of Fastify refusing it before the route.
  app.useBodyParser(/^.*/, { bodyLimit: BODY_LIMIT_BYTES }, (_request, _body, done) => done(null, undefined));
}

/** A Fastify content type parser from a synchronous one: what it throws is the request's 4xx. */
function bodyParser(parse: (headers: IncomingHttpHeaders, body: Buffer) => unknown): FastifyBodyParser<Buffer> {
  return (request, body, done) => {
    let parsed: unknown;
    try {
      parsed = parse(request.headers, body);
    } catch (error) {
      done(error as Error, undefined);
      return;
    }
    done(null, parsed);
  };
}

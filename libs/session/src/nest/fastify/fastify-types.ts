import type { IncomingMessage, ServerResponse } from 'node:http';

/*
 * The few parts of Fastify the session glue uses, described here rather than imported: the
 * library does not depend on `fastify`, so its published types must not name it.
 */

/** A Fastify request: what handlers, guards and `@Req()` receive. */
export interface FastifyRequestLike {
  readonly raw: IncomingMessage;
}

/** A Fastify reply. */
export interface FastifyReplyLike {
  readonly raw: ServerResponse;
  code(statusCode: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  getHeaders(): Record<string, unknown>;
  removeHeader(name: string): FastifyReplyLike;
}

/** `onSend`: the last hook before the status and headers leave, for every `reply.send()`. */
export type OnSendHook = (
  request: FastifyRequestLike,
  reply: FastifyReplyLike,
  payload: unknown,
  done: (error: Error | null, payload?: unknown) => void,
) => void;

/** A request property defined once on Fastify's request prototype. */
export interface RequestAccessor {
  getter(this: FastifyRequestLike): unknown;
  setter?(this: FastifyRequestLike, value: unknown): void;
}

/** `onRequest`: the first hook of every request, before routing's guards and handlers. */
export type OnRequestHook = (request: FastifyRequestLike, reply: FastifyReplyLike, done: (error?: Error) => void) => void;

/** A Fastify instance (`app.getHttpAdapter().getInstance()`). */
export interface FastifyInstanceLike {
  decorateRequest(name: string | symbol, accessor: RequestAccessor): unknown;
  addHook(name: 'onSend', hook: OnSendHook): unknown;
  addHook(name: 'onRequest', hook: OnRequestHook): unknown;
}

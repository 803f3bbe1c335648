import type { ExecutionContext } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { SessionError } from '../core/errors';
import type { SessionHandle } from '../core/session';
import { requireSession, type SessionAwareRequest } from './http/request-binding';
import { socketCarrierOf } from './sockets/socket-carrier';

/**
 * The kinds of Nest handler a session reaches. The GraphQL and WebSocket packages are optional
 * peers: they are told apart by `context.getType()`, never by importing them.
 */
export type SessionHandlerKind = 'http' | 'graphql' | 'ws';

/** The HTTP request a handler runs for, as far as the session glue reads it (any platform). */
export type HandlerRequest = SessionAwareRequest & {
  readonly method?: string;
  readonly url?: string;
  readonly originalUrl?: string;
  readonly headers: IncomingHttpHeaders;
};

/** What a handler runs in, for the session glue: its kind and the object its session is bound to. */
export type SessionHandlerContext =
  | { readonly kind: 'http'; readonly request: HandlerRequest }
  /** A resolver: `request` is the HTTP request that carried the operation; `operation` its type. */
  | { readonly kind: 'graphql'; readonly request: HandlerRequest | undefined; readonly operation: string | undefined }
  /** A `@SubscribeMessage()` handler: `carrier` holds the session read from the socket's handshake. */
  | { readonly kind: 'ws'; readonly carrier: SessionAwareRequest | undefined }
  | { readonly kind: 'other' };

/** The one place that reads a Nest execution context for the session: HTTP route, resolver or gateway. */
export function sessionHandlerContext(context: ExecutionContext): SessionHandlerContext {
  const type = context.getType<string>();
  if (type === 'http') return { kind: 'http', request: context.switchToHttp().getRequest<HandlerRequest>() };
  if (type === 'graphql') return graphqlContext(context.getArgs());
  if (type === 'ws') return { kind: 'ws', carrier: socketCarrierOf(context.switchToWs().getClient<object>()) };
  return { kind: 'other' };
}

/** The object `@Session()` and the guard read the session from; undefined when there is none. */
export function sessionCarrier(handler: SessionHandlerContext): SessionAwareRequest | undefined {
  switch (handler.kind) {
    case 'http':
    case 'graphql':
      return handler.request;
    case 'ws':
      return handler.carrier;
    default:
      return undefined;
  }
}

/**
 * The session of a handler. Throws a configuration error (the app is miswired, not a client
 * error) when nothing loaded one: no `SessionModule`, a GraphQL context without the request, or a
 * socket opened by an adapter that does not read sessions.
 */
export function requireHandlerSession(handler: SessionHandlerContext): SessionHandle {
  if (handler.kind === 'ws' && handler.carrier === undefined) {
    throw new SessionError(
      'No session on this socket: open sockets through the session adapter, app.useWebSocketAdapter(new SessionIoAdapter(app)) from ' +
        "'nest-session-auth/socket.io' (or SessionWsAdapter from 'nest-session-auth/ws')",
      'SESSION_NOT_LOADED',
    );
  }
  if (handler.kind === 'graphql' && handler.request === undefined) {
    throw new SessionError(
      'No HTTP request in this GraphQL context: keep the driver\'s default context, or have your context factory return { req }',
      'SESSION_NOT_LOADED',
    );
  }
  return requireSession(sessionCarrier(handler) ?? {});
}

interface GraphqlResolverContext {
  readonly req?: HandlerRequest;
  readonly request?: HandlerRequest;
  readonly reply?: { readonly request?: HandlerRequest };
}

/**
 * A resolver's arguments are `(root, args, context, info)`; a federation reference resolver has
 * no `args` (`(root, context, info)`), as `@nestjs/graphql` itself normalises them. The request is
 * where the drivers put it by default: `req` (Apollo on Express; Mercurius on Fastify, where it is
 * Fastify's request), or `request` / `reply.request` for a context factory that names it so.
 */
function graphqlContext(args: readonly unknown[]): SessionHandlerContext {
  const reference = args.length === 3;
  const context = (reference ? args[1] : args[2]) as GraphqlResolverContext | undefined;
  const info = (reference ? args[2] : args[3]) as { readonly operation?: { readonly operation?: string } } | undefined;
  const request = context?.req ?? context?.request ?? context?.reply?.request;
  return { kind: 'graphql', request, operation: info?.operation?.operation };
}

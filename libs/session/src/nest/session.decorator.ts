import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { SessionData, SessionHandle } from '../core/session';
import { requireHandlerSession, sessionHandlerContext } from './handler-context';

/**
 * The session of the current request, typed by its data:
 * `@Session() session: Session<{ visits: number }>`.
 */
export type Session<T extends object = SessionData> = SessionHandle & Partial<SessionData> & Partial<T>;

/**
 * Parameter decorator: injects the current session into a handler: an HTTP route's, a GraphQL
 * resolver's (the session of the request that carried the operation) or a gateway's (the
 * session the socket's handshake carried).
 */
export const Session = createParamDecorator((_data: unknown, context: ExecutionContext) =>
  requireHandlerSession(sessionHandlerContext(context)),
);

import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { SessionData, SessionHandle } from '../core/session';
import { requireSession, type SessionAwareRequest } from './http/request-binding';

/**
 * The session of the current request, typed by its data:
 * `@Session() session: Session<{ visits: number }>`.
 */
export type Session<T extends object = SessionData> = SessionHandle & Partial<SessionData> & Partial<T>;

/** Parameter decorator: injects the current request's session into a handler. */
export const Session = createParamDecorator((_data: unknown, context: ExecutionContext) =>
  requireSession(context.switchToHttp().getRequest<SessionAwareRequest>()),
);

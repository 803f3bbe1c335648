import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { prefersHtml } from '../core/content-negotiation';
import { safeReturnUrl } from '../core/return-url';
import type { SessionHandle, SessionUser } from '../core/session';
import { requireHandlerSession, sessionCarrier, sessionHandlerContext, type HandlerRequest, type SessionHandlerContext } from './handler-context';
import { sessionBindingOf } from './http/request-binding';
import { PUBLIC_ROUTE, REQUIRED_ROLES } from './session.constants';
import { AuthenticationRequiredException, LoginRequiredException, RoleRequiredException } from './session.exceptions';
import { gatewayRefusal } from './sockets/gateway-refusal';

/**
 * Lets signed-in sessions through (`session.user` set by `login()`), and checks `@Roles()`, on
 * HTTP routes, GraphQL resolvers and WebSocket gateways (`@SubscribeMessage()` handlers).
 * Anonymous requests get a 401 JSON error, or, for a browser asking for a page, a redirect to the
 * login page that remembers the page as `returnTo`; an anonymous GraphQL operation gets an error
 * with `extensions.code: 'UNAUTHENTICATED'` (`FORBIDDEN` for a missing role); a gateway handler an
 * `exception` event with `code`. Override {@link handleAnonymous} to change that decision,
 * {@link getUser} / {@link getRoles} to read the principal differently.
 *
 * @example
 * \@UseGuards(SessionGuard)
 * \@Controller('articles') export class ArticlesController {}
 */
@Injectable()
export class SessionGuard implements CanActivate {
  constructor(protected readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_ROUTE, targets)) return true;
    const handler = sessionHandlerContext(context);
    // Anything else (a microservice handler in a hybrid app with guard: 'global') fails closed
    // unless marked @Public().
    if (handler.kind === 'other') return false;
    const user = this.getUser(requireHandlerSession(handler));
    if (!user) return this.handleAnonymous(context, sessionCarrier(handler) as HandlerRequest | undefined);

    const required = this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_ROLES, targets);
    if (required && required.length > 0) {
      const held = this.getRoles(user);
      if (!required.some((role) => held.includes(role))) throw refusal(handler, new RoleRequiredException(required));
    }
    return true;
  }

  /** The signed-in principal of a session, or undefined when anonymous. */
  protected getUser(session: SessionHandle): SessionUser | undefined {
    const user = (session as SessionHandle & { user?: unknown }).user;
    return user !== null && typeof user === 'object' ? (user as SessionUser) : undefined;
  }

  /** The roles a principal holds, for `@Roles()`. */
  protected getRoles(user: SessionUser): readonly string[] {
    return Array.isArray(user.roles) ? user.roles.filter((role): role is string => typeof role === 'string') : [];
  }

  /**
   * The one decision for anonymous requests. Default: a browser asking for a page with GET or HEAD
   * is redirected to the login page with `returnTo` (only a safe same-origin path survives);
   * everything else gets 401, and resolvers and gateway handlers their `UNAUTHENTICATED` error
   * (`request` is then the HTTP request that carried the operation, or the socket's session
   * carrier). Throw or return false.
   */
  protected handleAnonymous(context: ExecutionContext, request: HandlerRequest | undefined): boolean {
    const handler = sessionHandlerContext(context);
    if (handler.kind !== 'http' || request === undefined) throw refusal(handler, new AuthenticationRequiredException());
    const isPageRequest = (request.method === 'GET' || request.method === 'HEAD') && prefersHtml(request.headers.accept);
    if (!isPageRequest) throw new AuthenticationRequiredException();
    const loginPath = sessionBindingOf(request)?.loginPath ?? '/login';
    const returnTo = safeReturnUrl(request.originalUrl ?? request.url ?? '', '');
    if (returnTo === '' || returnTo === loginPath) throw new LoginRequiredException(loginPath);
    const separator = loginPath.includes('?') ? '&' : '?';
    throw new LoginRequiredException(`${loginPath}${separator}returnTo=${encodeURIComponent(returnTo)}`);
  }
}

/** A refusal in the handler's own terms: the exception itself, or for a gateway a `WsException` with the same message and code. */
function refusal(handler: SessionHandlerContext, exception: AuthenticationRequiredException | RoleRequiredException): Error {
  return handler.kind === 'ws' ? gatewayRefusal(exception.message, exception.extensions.code) : exception;
}

import {
  ForbiddenException,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import { prefersHtml } from '../core/content-negotiation';
import { safeReturnUrl } from '../core/return-url';
import type { SessionHandle, SessionUser } from '../core/session';
import { LoginRequiredException } from './session.exceptions';
import { PUBLIC_ROUTE, REQUIRED_ROLES } from './session.constants';
import { requireSession, sessionBindingOf, type SessionAwareRequest } from './http/request-binding';

type GuardedRequest = IncomingMessage & SessionAwareRequest & { originalUrl?: string };

/**
 * Lets signed-in sessions through (`session.user` set by `login()`), and checks `@Roles()`.
 * Anonymous requests get a 401 JSON error, or, for a browser asking for a page, a redirect to the
 * login page that remembers the page as `returnTo`. Override {@link handleAnonymous} to change that
 * decision, {@link getUser} / {@link getRoles} to read the principal differently.
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
    // Sessions live on HTTP requests; anything else (a gateway, a microservice handler in a hybrid
    // app with guard: 'global') fails closed unless marked @Public().
    if (context.getType() !== 'http') return false;

    const request = context.switchToHttp().getRequest<GuardedRequest>();
    const session = requireSession(request);
    const user = this.getUser(session);
    if (!user) return this.handleAnonymous(context, request);

    const required = this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_ROLES, targets);
    if (required && required.length > 0) {
      const held = this.getRoles(user);
      if (!required.some((role) => held.includes(role))) {
        throw new ForbiddenException(`Requires one of the roles: ${required.join(', ')}`);
      }
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
   * everything else gets 401. Throw or return false.
   */
  protected handleAnonymous(_context: ExecutionContext, request: GuardedRequest): boolean {
    const isPageRequest = (request.method === 'GET' || request.method === 'HEAD') && prefersHtml(request.headers.accept);
    if (!isPageRequest) throw new UnauthorizedException('Authentication required');
    const loginPath = sessionBindingOf(request)?.loginPath ?? '/login';
    const returnTo = safeReturnUrl(request.originalUrl ?? request.url, '');
    if (returnTo === '' || returnTo === loginPath) throw new LoginRequiredException(loginPath);
    const separator = loginPath.includes('?') ? '&' : '?';
    throw new LoginRequiredException(`${loginPath}${separator}returnTo=${encodeURIComponent(returnTo)}`);
  }
}

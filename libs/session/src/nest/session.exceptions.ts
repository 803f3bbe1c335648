import { ConflictException, ForbiddenException, ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';

/**
 * Every exception the library throws carries `extensions.code`: graphql-js copies an error's
 * `extensions` into the GraphQL error it reports (Apollo and Mercurius alike), so a resolver's
 * client reads `UNAUTHENTICATED` or `FORBIDDEN` instead of a bare message. HTTP responses are
 * unchanged: their body is the exception's response object, as for any Nest `HttpException`.
 */
export interface SessionErrorExtensions {
  readonly code: string;
}

/** The session store failed: 503 with a clear message, never a 500 and never a silent anonymous user. */
export class SessionStoreUnavailableException extends ServiceUnavailableException {
  readonly extensions: SessionErrorExtensions = { code: 'SESSION_STORE_UNAVAILABLE' };

  constructor(cause?: unknown) {
    super('Session store unavailable, please retry shortly', { cause });
  }
}

/** The body of a 409 for a write that was not kept (see {@link SessionInterruptedException}). */
export const SESSION_INTERRUPTED_BODY = Object.freeze({
  statusCode: 409,
  error: 'Conflict',
  code: 'SESSION_INTERRUPTED',
  message: 'Your session ended (signed out elsewhere, revoked or expired) while this request was being handled; its changes were not saved',
});

/**
 * The session ended (a logout or revocation by another request) while this request changed it:
 * the change was not saved, so the request answers 409 rather than pretend it was. The body
 * carries `code: 'SESSION_INTERRUPTED'` for clients to act on (typically: sign in again).
 */
export class SessionInterruptedException extends ConflictException {
  readonly extensions: SessionErrorExtensions = { code: 'SESSION_INTERRUPTED' };

  constructor(cause?: unknown) {
    super({ ...SESSION_INTERRUPTED_BODY }, { cause });
  }
}

/** An anonymous request or operation reached a handler that needs a signed-in session: 401, `UNAUTHENTICATED`. */
export class AuthenticationRequiredException extends UnauthorizedException {
  readonly extensions: SessionErrorExtensions = { code: 'UNAUTHENTICATED' };

  constructor() {
    super('Authentication required');
  }
}

/** A signed-in principal lacks every role `@Roles()` asks for: 403, `FORBIDDEN`. */
export class RoleRequiredException extends ForbiddenException {
  readonly extensions: SessionErrorExtensions = { code: 'FORBIDDEN' };

  constructor(readonly requiredRoles: readonly string[]) {
    super(`Requires one of the roles: ${requiredRoles.join(', ')}`);
  }
}

/** The `csrf` option refused a request (or a GraphQL mutation) another site sent: 403, `FORBIDDEN`. */
export class CrossSiteRequestException extends ForbiddenException {
  readonly extensions: SessionErrorExtensions = { code: 'FORBIDDEN' };

  constructor(message = 'Cross-site request refused') {
    super(message);
  }
}

/**
 * An anonymous page request hit a protected route. `LoginRedirectFilter` turns it into a redirect
 * to `location`; without the filter it is still a plain 401.
 */
export class LoginRequiredException extends AuthenticationRequiredException {
  /** Where the browser is sent: the login page, with the page it asked for as `returnTo`. */
  readonly location: string;

  constructor(location: string) {
    super();
    this.location = location;
  }
}

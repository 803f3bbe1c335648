import { ConflictException, ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';

/** The session store failed: 503 with a clear message, never a 500 and never a silent anonymous user. */
export class SessionStoreUnavailableException extends ServiceUnavailableException {
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
  constructor(cause?: unknown) {
    super({ ...SESSION_INTERRUPTED_BODY }, { cause });
  }
}

/**
 * An anonymous page request hit a protected route. `LoginRedirectFilter` turns it into a redirect
 * to `location`; without the filter it is still a plain 401.
 */
export class LoginRequiredException extends UnauthorizedException {
  /** Where the browser is sent: the login page, with the page it asked for as `returnTo`. */
  readonly location: string;

  constructor(location: string) {
    super('Authentication required');
    this.location = location;
  }
}

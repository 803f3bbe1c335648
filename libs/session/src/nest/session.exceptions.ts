import { ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';

/** The session store failed: 503 with a clear message, never a 500 and never a silent anonymous user. */
export class SessionStoreUnavailableException extends ServiceUnavailableException {
  constructor(cause?: unknown) {
    super('Session store unavailable, please retry shortly', { cause });
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

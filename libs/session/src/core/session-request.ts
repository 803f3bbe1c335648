import type { SessionDevice } from './session-owner';

/** What the session manager needs to know about an incoming request. */
export interface SessionRequest {
  /** The raw `Cookie` header. */
  readonly cookieHeader: string | undefined;
  /** Whether the request arrived over HTTPS (decides `Secure` when `cookie.secure` is 'auto'). */
  readonly secure: boolean;
  /**
   * Where the request comes from (address, user agent), asked only when a user signs in, for
   * the "your sessions" list. Optional: without it sessions are listed without device details.
   */
  readonly device?: () => SessionDevice;
}

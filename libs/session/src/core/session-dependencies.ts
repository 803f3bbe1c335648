import type { SessionInterruptedError, SessionStoreError } from './errors';
import type { DiscardedCookieReason } from './session-backend';
import type { SessionEvents } from './session-events';
import type { RandomSource } from './session-id';
import type { SessionStore } from './session-store';

/** Injectable sources of time and randomness, so behaviour over time is testable without fake timers. */
export interface SessionManagerDependencies {
  readonly store: SessionStore;
  /** Milliseconds since the epoch. @default Date.now */
  readonly clock?: () => number;
  /** CSPRNG bytes. @default crypto.randomBytes */
  readonly random?: RandomSource;
  /**
   * Maps a store failure met by a session method the handler called (`login()`, `save()`, ...)
   * to the error the handler sees, and likewise a `save()` that found the session ended by
   * another request. The Nest module maps them to 503 and 409 HttpExceptions.
   * @default the error itself
   */
  readonly toHandlerError?: (error: SessionStoreError | SessionInterruptedError) => unknown;
  /**
   * Told why a request's cookie gave a fresh session instead of its session (for debug logs:
   * untrusted input is not an error). Never receives the cookie or the id.
   */
  readonly onDiscardedCookie?: (reason: DiscardedCookieReason) => void;
  /** Where lifecycle events go. @default an emitter nobody listens to */
  readonly events?: SessionEvents;
}

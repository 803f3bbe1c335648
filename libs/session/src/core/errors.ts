import { types } from 'node:util';

/**
 * Stable machine-readable codes carried by every error the library throws.
 */
export type SessionErrorCode =
  | 'SESSION_CONFIG_INVALID'
  | 'SESSION_STORE_FAILED'
  | 'SESSION_NOT_FOUND'
  | 'SESSION_DESTROYED'
  | 'SESSION_NOT_LOADED'
  | 'SESSION_TOO_LARGE'
  | 'SESSION_INTERRUPTED'
  | 'USER_INDEX_UNSUPPORTED';

/**
 * Base class of every error thrown by the session library. Catch this to handle them all.
 */
export class SessionError extends Error {
  /** Stable code for programmatic handling; the message is for humans and may change. */
  readonly code: SessionErrorCode;

  constructor(message: string, code: SessionErrorCode, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Thrown once at boot when the options are invalid. Lists every problem, each as
 * `option: what is wrong and what is expected`, so one restart is enough to fix them all.
 */
export class SessionConfigError extends SessionError {
  /** Each problem on its own, in the order they were found. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      `Invalid session options (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((problem) => `  - ${problem}`).join('\n'),
      'SESSION_CONFIG_INVALID',
    );
    this.problems = problems;
  }
}

/**
 * A session store failed (unreachable, timed out, refused the write). The HTTP layer maps it to
 * 503 Service Unavailable: a request must never continue as a silently anonymous user, and a write
 * the handler made must never be dropped without the client knowing.
 */
export class SessionStoreError extends SessionError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'SESSION_STORE_FAILED', options);
  }
}

/**
 * The session ended while this request was being handled (a logout or revocation by another
 * request, "sign out everywhere", an eviction), so the changes this request made to it were not
 * saved: the session is never brought back by a slower write. Answering as if the write had
 * been kept would be a lie the client acts on, so the HTTP layer answers 409 Conflict (and
 * expires the cookie) instead. Django calls the same situation `SessionInterrupted`.
 */
export class SessionInterruptedError extends SessionError {
  constructor(message = 'The session ended (signed out elsewhere, revoked or expired) while this request was being handled; its changes were not saved') {
    super(message, 'SESSION_INTERRUPTED');
  }
}

/**
 * Wraps anything a store threw into a {@link SessionStoreError}, keeping the original as `cause`.
 */
export function toSessionStoreError(operation: string, error: unknown): SessionStoreError {
  if (error instanceof SessionStoreError) return error;
  // isNativeError also recognises errors from another realm (a vm context, a test sandbox).
  const reason = error instanceof Error || types.isNativeError(error) ? error.message : String(error);
  return new SessionStoreError(`Session store ${operation} failed: ${reason}`, { cause: error });
}

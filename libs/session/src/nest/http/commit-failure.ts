import { SessionError, SessionInterruptedError, SessionStoreError } from '../../core/errors';
import type { SessionHandle } from '../../core/session';
import type { SessionManager } from '../../core/session-manager';
import { SESSION_INTERRUPTED_BODY } from '../session.exceptions';
import type { CommitLogger } from './session-http-platform';

/** What a response becomes when its session could not be committed: it replaces the handler's answer. */
export interface CommitFailureAnswer {
  readonly status: number;
  /** Every header of the answer: the handler's own headers are dropped. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * The answer in place of a response whose commit failed, the same on every platform:
 * - the session ended elsewhere while this request changed it: 409 with `code:
 *   'SESSION_INTERRUPTED'`, and the dead cookie expired. Not logged as an error: a logout racing
 *   another tab's request is ordinary;
 * - the store failed: 503 with `Retry-After`, so a write the handler made is never silently lost;
 * - anything else (a session too large for its cookie): 500, logged.
 */
export function commitFailureAnswer(error: unknown, session: SessionHandle, manager: SessionManager, logger: CommitLogger): CommitFailureAnswer {
  if (error instanceof SessionInterruptedError) {
    const expiredCookie = manager.setCookieHeader(session);
    return answer(409, SESSION_INTERRUPTED_BODY, expiredCookie === undefined ? {} : { 'Set-Cookie': expiredCookie });
  }
  logger.error(
    `Session commit failed: ${error instanceof Error ? error.message : String(error)}`,
    error instanceof Error ? error.stack : undefined,
  );
  if (error instanceof SessionStoreError) {
    return answer(
      503,
      { statusCode: 503, error: 'Service Unavailable', message: 'Session store unavailable, please retry shortly' },
      { 'Retry-After': '5' },
    );
  }
  return answer(500, { statusCode: 500, error: 'Internal Server Error', message: developerMessage(error) }, {});
}

function answer(status: number, payload: object, extra: Record<string, string>): CommitFailureAnswer {
  const body = JSON.stringify(payload);
  return {
    status,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'Cache-Control': 'no-store',
      ...extra,
    },
    body,
  };
}

/**
 * Outside production, a library error the developer must fix (a session too large for its cookie)
 * says so in the response, where it is seen at once; in production the body stays generic and
 * the message goes to the log only.
 */
function developerMessage(error: unknown): string {
  if (process.env.NODE_ENV !== 'production' && error instanceof SessionError) return error.message;
  return 'Internal server error';
}

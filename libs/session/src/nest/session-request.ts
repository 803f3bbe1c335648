import { SessionError } from '../core/errors';
import { latestSession, type SessionHandle } from '../core/session';
import type { SessionManager } from '../core/session-manager';

const MANAGER = Symbol('session manager');

/** A request the session middleware has seen. */
export interface SessionAwareRequest {
  session?: SessionHandle | null;
  [MANAGER]?: SessionManager;
}

/** Attaches the loaded session (and the manager that owns it) to the request. */
export function attachSession(request: SessionAwareRequest, session: SessionHandle, manager: SessionManager): void {
  let assigned: SessionHandle | null | undefined = session;
  // `req.session` always names the live session: after `regenerate()` (express-session semantics)
  // it is the replacement, which passport and express-session code read right after the call.
  Object.defineProperty(request, 'session', {
    configurable: true,
    enumerable: true,
    get: () => (assigned ? latestSession(assigned) : assigned),
    set: (value: SessionHandle | null | undefined) => {
      // `req.session = null` ends the session, as in cookie-session (both modes).
      if (value === null && assigned) manager.discard(assigned);
      assigned = value;
    },
  });
  request[MANAGER] = manager;
}

/** The manager that loaded this request's session, if the session middleware ran. */
export function sessionManagerOf(request: SessionAwareRequest): SessionManager | undefined {
  return request[MANAGER];
}

/**
 * The session of a request. Throws a configuration error (not a 4xx: the app is miswired) when the
 * session middleware did not run, i.e. `SessionModule` is not imported in the application.
 */
export function requireSession(request: SessionAwareRequest): SessionHandle {
  const session = request.session;
  if (!session || !request[MANAGER]) {
    throw new SessionError(
      'No session on this request: import SessionModule.forRoot() in the application module',
      'SESSION_NOT_LOADED',
    );
  }
  return session;
}

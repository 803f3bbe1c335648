import { SessionError } from '../../core/errors';
import type { SessionHandle } from '../../core/session';
import type { SessionManager } from '../../core/session-manager';

const MANAGER = Symbol('session manager');

/**
 * A request the session glue has seen, on any platform: the platform attaches the session as
 * `session` and binds the manager that loaded it, on the object handlers and guards receive.
 */
export interface SessionAwareRequest {
  session?: SessionHandle | null;
  [MANAGER]?: SessionManager;
}

/** Records which manager loaded the request's session (`SessionHttpPlatform.attach` calls it). */
export function bindManager(request: SessionAwareRequest, manager: SessionManager): void {
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

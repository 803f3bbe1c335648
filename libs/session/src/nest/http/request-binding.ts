import { SessionError } from '../../core/errors';
import type { SessionHandle } from '../../core/session';
import type { SessionManager } from '../../core/session-manager';

/**
 * Where the binding lives on a request. Exported for the platforms only: Fastify exposes the one
 * kept on `request.raw` under the same key on its own request objects.
 */
export const SESSION_BINDING = Symbol('session binding');

/** What the session middleware binds to a request: the manager that loaded its session, and where to sign in. */
export interface SessionBinding {
  readonly manager: SessionManager;
  /** The module's `loginPath`, for `SessionGuard`'s redirect. */
  readonly loginPath: string;
}

/**
 * A request the session glue has seen, on any platform: the platform attaches the session as
 * `session` and binds the manager that loaded it, on the object handlers and guards receive.
 */
export interface SessionAwareRequest {
  session?: SessionHandle | null;
  [SESSION_BINDING]?: SessionBinding;
}

/** Binds the manager (and the module settings the guard needs) to a request (`SessionHttpPlatform.attach` calls it). */
export function bindSession(request: SessionAwareRequest, binding: SessionBinding): void {
  request[SESSION_BINDING] = binding;
}

/** What the session middleware bound to this request, if it ran. */
export function sessionBindingOf(request: SessionAwareRequest): SessionBinding | undefined {
  return request[SESSION_BINDING];
}

/** The manager that loaded this request's session, if the session middleware ran. */
export function sessionManagerOf(request: SessionAwareRequest): SessionManager | undefined {
  return request[SESSION_BINDING]?.manager;
}

/**
 * The session of a request. Throws a configuration error (not a 4xx: the app is miswired) when the
 * session middleware did not run: `SessionModule` is not imported in the application, or the app
 * runs on an HTTP platform the module does not hook (it refuses those at boot, so this is rare).
 */
export function requireSession(request: SessionAwareRequest): SessionHandle {
  const session = request.session;
  if (!session || !request[SESSION_BINDING]) {
    throw new SessionError(
      'No session on this request: import SessionModule.forRoot() (or forRootAsync()) in the application module, and run the app on ' +
        '@nestjs/platform-express or @nestjs/platform-fastify (the platforms the session middleware hooks)',
      'SESSION_NOT_LOADED',
    );
  }
  return session;
}

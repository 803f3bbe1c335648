import { IncomingMessage } from 'node:http';
import { SessionError } from '../core/errors';
import { latestSession, type SessionHandle } from '../core/session';
import type { SessionManager } from '../core/session-manager';

const MANAGER = Symbol('session manager');
const ASSIGNED = Symbol('session');

/** A request the session middleware has seen. */
export interface SessionAwareRequest {
  session?: SessionHandle | null;
  [MANAGER]?: SessionManager;
  [ASSIGNED]?: SessionHandle | null;
}

// One getter and setter shared by every request (not closures made per request), so V8 keeps one
// shape for all requests instead of giving each its own.
const SESSION_PROPERTY: PropertyDescriptor & ThisType<SessionAwareRequest> = {
  configurable: true,
  enumerable: true,
  // `req.session` always names the live session: after `regenerate()` (express-session semantics)
  // it is the replacement, which passport and express-session code read right after the call.
  get(this: SessionAwareRequest): SessionHandle | null | undefined {
    const assigned = this[ASSIGNED];
    return assigned ? latestSession(assigned) : assigned;
  },
  set(this: SessionAwareRequest, value: SessionHandle | null | undefined) {
    const assigned = this[ASSIGNED];
    // `req.session = null` ends the session, as in cookie-session (both modes).
    if (value === null && assigned) this[MANAGER]?.discard(assigned);
    this[ASSIGNED] = value;
  },
};

/** Attaches the loaded session (and the manager that owns it) to the request. */
export function attachSession(request: SessionAwareRequest, session: SessionHandle, manager: SessionManager): void {
  request[MANAGER] = manager;
  request[ASSIGNED] = session;
  if (!sessionAccessorInherited(request)) Object.defineProperty(request, 'session', SESSION_PROPERTY);
}

const prototypesWithAccessor = new WeakSet<object>();

/**
 * Puts the `session` accessor on the request's prototype (Express makes one per application, on
 * top of `http.IncomingMessage.prototype`), once, instead of defining it on every request: an
 * accessor defined per request object costs that object its fast shape, and every later property
 * read on the request pays for it. False when that cannot be done safely (an own `session` set
 * earlier, a prototype that is not a Node request's, or a fixed `session` defined by someone else):
 * the accessor then goes on the request itself.
 */
function sessionAccessorInherited(request: SessionAwareRequest): boolean {
  if (Object.hasOwn(request, 'session')) return false;
  const prototype = Object.getPrototypeOf(request) as object | null;
  if (prototype === null) return false;
  if (prototypesWithAccessor.has(prototype)) return true;
  if (prototype === IncomingMessage.prototype || !(prototype instanceof IncomingMessage)) return false;
  const existing = Object.getOwnPropertyDescriptor(prototype, 'session');
  if (existing && !existing.configurable) return false;
  Object.defineProperty(prototype, 'session', SESSION_PROPERTY);
  prototypesWithAccessor.add(prototype);
  return true;
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

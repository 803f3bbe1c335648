import { IncomingMessage } from 'node:http';
import { latestSession, type SessionHandle } from '../../core/session';
import { sessionManagerOf, type SessionAwareRequest } from '../http/request-binding';

const ASSIGNED = Symbol('session');

/** A request whose `session` is the accessor below. */
type AccessorRequest = SessionAwareRequest & { [ASSIGNED]?: SessionHandle | null };

// One getter and setter shared by every request (not closures made per request), so V8 keeps one
// shape for all requests instead of giving each its own.
const SESSION_PROPERTY: PropertyDescriptor & ThisType<AccessorRequest> = {
  configurable: true,
  enumerable: true,
  // `req.session` always names the live session: after `regenerate()` (express-session semantics)
  // it is the replacement, which passport and express-session code read right after the call.
  get(this: AccessorRequest): SessionHandle | null | undefined {
    const assigned = this[ASSIGNED];
    return assigned ? latestSession(assigned) : assigned;
  },
  set(this: AccessorRequest, value: SessionHandle | null | undefined) {
    const assigned = this[ASSIGNED];
    // `req.session = null` ends the session, as in cookie-session (both modes).
    if (value === null && assigned) sessionManagerOf(this)?.discard(assigned);
    this[ASSIGNED] = value;
  },
};

/** Makes `req.session` the loaded session (an accessor: see `SESSION_PROPERTY`). */
export function defineSessionProperty(request: IncomingMessage, session: SessionHandle): void {
  const target = request as IncomingMessage & AccessorRequest;
  target[ASSIGNED] = session;
  if (!sessionAccessorInherited(target)) Object.defineProperty(request, 'session', SESSION_PROPERTY);
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
function sessionAccessorInherited(request: IncomingMessage & AccessorRequest): boolean {
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

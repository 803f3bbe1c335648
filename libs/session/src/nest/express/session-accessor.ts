import { IncomingMessage } from 'node:http';
import type { SessionHandle } from '../../core/session';
import { fillSessionSlot, readSessionSlot, writeSessionSlot, type SessionSlot } from '../http/session-slot';

// One getter and setter shared by every request (not closures made per request), so V8 keeps one
// shape for all requests instead of giving each its own. On Express the request is its own slot.
const SESSION_PROPERTY: PropertyDescriptor & ThisType<SessionSlot> = {
  configurable: true,
  enumerable: true,
  get(this: SessionSlot): SessionHandle | null | undefined {
    return readSessionSlot(this);
  },
  set(this: SessionSlot, value: SessionHandle | null | undefined) {
    writeSessionSlot(this, value);
  },
};

/** Makes `req.session` the loaded session (an accessor: see `SESSION_PROPERTY`). */
export function defineSessionProperty(request: IncomingMessage, session: SessionHandle): void {
  fillSessionSlot(request as IncomingMessage & SessionSlot, session);
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
function sessionAccessorInherited(request: IncomingMessage): boolean {
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

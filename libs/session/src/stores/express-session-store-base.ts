import { EventEmitter } from 'node:events';

/** What {@link ExpressSessionStoreBase} gives the stores built on it. */
export interface ExpressSessionStoreBase extends EventEmitter {
  /** express-session's helper: destroys the session (the middleware then makes a new one). */
  regenerate(request: { sessionID?: string }, callback: (error?: unknown) => void): void;
  /** express-session's helper: `get`, then the session object (here: the stored object itself). */
  load(sid: string, callback: (error?: unknown, session?: unknown) => void): void;
  /** express-session's helper: turns stored data back into a session; here the data as it is. */
  createSession(request: unknown, session: unknown): unknown;
}

type StoreMethods = {
  get?: (sid: string, callback: (error?: unknown, session?: unknown) => void) => void;
  destroy?: (sid: string, callback: (error?: unknown) => void) => void;
};

/**
 * A stand-in for express-session's `Store` base class, for stores built by a factory that takes
 * express-session (`require('connect-pg-simple')(session)`, `require('memorystore')(session)`,
 * ...): pass {@link expressSessionShim} instead, and express-session itself need not be
 * installed. Only what such stores use from the base is provided: an event emitter, and the
 * three helpers express-session defines on it, which this library never calls. A constructor
 * function, as express-session's is, because older stores inherit with `Store.call(this)` (a
 * class could not be called so); newer ones `extends` it. express-session's own `session`
 * object works as well.
 */
export const ExpressSessionStoreBase = function ExpressSessionStoreBase(this: EventEmitter): void {
  EventEmitter.call(this);
} as unknown as { new (): ExpressSessionStoreBase; prototype: ExpressSessionStoreBase };

Object.setPrototypeOf(ExpressSessionStoreBase.prototype, EventEmitter.prototype);
Object.setPrototypeOf(ExpressSessionStoreBase, EventEmitter);

ExpressSessionStoreBase.prototype.regenerate = function regenerate(this: StoreMethods, request, callback) {
  if (typeof this.destroy !== 'function' || request.sessionID === undefined) return callback();
  this.destroy(request.sessionID, callback);
};

ExpressSessionStoreBase.prototype.load = function load(this: StoreMethods, sid, callback) {
  if (typeof this.get !== 'function') return callback();
  this.get(sid, (error, session) => callback(error, session ?? undefined));
};

ExpressSessionStoreBase.prototype.createSession = function createSession(_request, session) {
  return session;
};

/**
 * What store factories written for express-session expect to be given: an object with the
 * `Store` base class. `require('connect-pg-simple')(expressSessionShim)`.
 */
export const expressSessionShim: { readonly Store: typeof ExpressSessionStoreBase } = Object.freeze({ Store: ExpressSessionStoreBase });

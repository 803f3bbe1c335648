import { EventEmitter } from 'node:events';
import { inherits } from 'node:util';
import { SessionConfigError, SessionStoreError } from '../core/errors';
import { resolveSessionOptions } from '../core/session-options';
import type { SessionRecord } from '../core/session-store';
import { callbackOrPromise } from './callback-or-promise';
import { ExpressSessionStoreBase, expressSessionShim } from './express-session-store-base';
import { ExpressSessionStore, type ExpressSessionCompatibleStore } from './express-session.store';
import { fromForeignSession, RECORD_FIELD, toForeignSession } from './express-session-record';

const KEY = 'k'.repeat(43);

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  return { data: { visits: 1 }, createdAt: now, touchedAt: now, expiresAt: now + 60_000, ...overrides };
}

/** A store in memory, in express-session's callback style. */
class CallbackStore extends EventEmitter implements ExpressSessionCompatibleStore {
  readonly sessions = new Map<string, string>();
  get(sid: string, callback: (error?: unknown, value?: unknown) => void): void {
    const value = this.sessions.get(sid);
    setImmediate(() => callback(null, value === undefined ? null : JSON.parse(value)));
  }
  set(sid: string, session: object, callback: (error?: unknown) => void): void {
    this.sessions.set(sid, JSON.stringify(session));
    setImmediate(() => callback());
  }
  destroy(sid: string, callback: (error?: unknown) => void): void {
    this.sessions.delete(sid);
    setImmediate(() => callback());
  }
}

describe('callbackOrPromise', () => {
  it('settles from a callback, a promise, or whichever of both comes first, once', async () => {
    await expect(callbackOrPromise((callback) => setImmediate(() => callback(null, 'called back')))).resolves.toBe('called back');
    await expect(callbackOrPromise(() => Promise.resolve('returned'))).resolves.toBe('returned');
    const both = callbackOrPromise<string>((callback) => {
      callback(null, 'first');
      callback(new Error('second call, ignored'));
      return Promise.reject(new Error('late rejection, ignored'));
    });
    await expect(both).resolves.toBe('first');
  });

  it('rejects with what the store threw or called back with, keeping its fields (a code)', async () => {
    await expect(callbackOrPromise(() => { throw new Error('sync'); })).rejects.toThrow('sync');
    const enoent = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    await expect(callbackOrPromise((callback) => callback(enoent))).rejects.toBe(enoent);
    await expect(callbackOrPromise((callback) => callback('a string'))).rejects.toThrow('a string');
  });
});

describe('expressSessionShim', () => {
  it('is a base that old-style stores inherit with Store.call(this) and new ones extend', () => {
    function OldStore(this: EventEmitter & { ready: boolean }): void {
      expressSessionShim.Store.call(this as never);
      this.ready = true;
    }
    inherits(OldStore, expressSessionShim.Store);
    const old = new (OldStore as unknown as new () => EventEmitter & { ready: boolean })();
    expect(old).toBeInstanceOf(EventEmitter);
    expect(old).toBeInstanceOf(ExpressSessionStoreBase);
    expect(old.ready).toBe(true);

    class NewStore extends expressSessionShim.Store {}
    const fresh = new NewStore();
    expect(fresh).toBeInstanceOf(EventEmitter);
    expect(typeof fresh.regenerate).toBe('function');
    expect(fresh.createSession({}, { a: 1 })).toEqual({ a: 1 });
  });
});

describe('the session object a foreign store keeps', () => {
  it('gives each store the expiry in the field it reads, and reads back only what this library wrote', () => {
    const now = 1_700_000_000_000;
    const written = toForeignSession(record({ createdAt: now, touchedAt: now, expiresAt: now + 90_000, owner: { userId: 'u', endsBy: now + 1 } }), now);
    expect(written.cookie).toEqual({ originalMaxAge: 90_000, maxAge: 90_000, expires: new Date(now + 90_000).toISOString(), httpOnly: true, path: '/' });
    expect(fromForeignSession(JSON.parse(JSON.stringify(written)))).toMatchObject({ expiresAt: now + 90_000, owner: { userId: 'u' } });
    // An express-session session (a passport app's) is not one of ours.
    expect(fromForeignSession({ cookie: { expires: null }, passport: { user: 'alice' } })).toBeUndefined();
    expect(fromForeignSession({ [RECORD_FIELD]: { v: 1, data: [], createdAt: 1, touchedAt: 1, expiresAt: 2 } })).toBeUndefined();
  });

  it('caps the lifetime handed to the store at 30 days (memcached reads more as a date in the past)', () => {
    const now = Date.now();
    const written = toForeignSession(record({ expiresAt: now + 90 * 86_400_000 }), now);
    expect(written.cookie.maxAge).toBe(30 * 86_400_000);
  });
});

describe('ExpressSessionStore', () => {
  it('refuses what is not an express-session store, naming what is missing', () => {
    expect(() => new ExpressSessionStore({ get: () => undefined } as never)).toThrow(SessionConfigError);
    expect(() => new ExpressSessionStore({ get: () => undefined } as never)).toThrow(/has no set\(sid, \.\.\.\) method/);
    expect(() => new ExpressSessionStore(new CallbackStore(), { operationTimeout: 0 })).toThrow(/operationTimeout/);
  });

  it('is refused at boot with maxSessionsPerUser: it cannot list sessions per user', () => {
    expect(() => resolveSessionOptions({ secret: 'x'.repeat(40), store: new ExpressSessionStore(new CallbackStore()), maxSessionsPerUser: 3 })).toThrow(
      /listByUser.*ExpressSessionStore/,
    );
  });

  it('fails fast while the store says it is disconnected, and recovers on connect', async () => {
    const inner = new CallbackStore();
    const errors: Error[] = [];
    const store = new ExpressSessionStore(inner, { onError: (error) => errors.push(error) });
    await store.set(KEY, record());
    inner.emit('disconnect');
    await expect(store.get(KEY)).rejects.toThrow(new SessionStoreError('Session store get failed: the store reported it is disconnected'));
    expect(errors.map((error) => error.message)).toEqual(['the store reported it is disconnected']);
    inner.emit('connect');
    await expect(store.get(KEY)).resolves.toMatchObject({ data: { visits: 1 } });
    inner.emit('error', new Error('socket closed'));
    expect(errors.map((error) => error.message)).toContain('socket closed');
  });

  it('bounds a store that never answers by the operation timeout', async () => {
    const hanging = { get: () => undefined, set: () => undefined, destroy: () => undefined };
    const store = new ExpressSessionStore(hanging, { operationTimeout: 50 });
    await expect(store.get(KEY)).rejects.toThrow(/timed out after 50 ms/);
  });

  it('closes the store in whichever form its close() has, unless told not to, and stops following its events', async () => {
    const withCallback = Object.assign(new CallbackStore(), { close: jest.fn((callback: () => void) => callback()) });
    await new ExpressSessionStore(withCallback).close();
    expect(withCallback.close).toHaveBeenCalledTimes(1);
    expect(withCallback.listenerCount('disconnect')).toBe(0);

    const synchronous = Object.assign(new CallbackStore(), { close: jest.fn(() => undefined) });
    await new ExpressSessionStore(synchronous).close();
    expect(synchronous.close).toHaveBeenCalledTimes(1);

    const kept = Object.assign(new CallbackStore(), { close: jest.fn(() => Promise.resolve()) });
    await new ExpressSessionStore(kept, { closeStore: false }).close();
    expect(kept.close).not.toHaveBeenCalled();
  });

  it('never lets a destroy overtake a write the store answers after its timeout (no logout undone by a late write)', async () => {
    const inner = new CallbackStore();
    const store = new ExpressSessionStore(inner, { operationTimeout: 50 });
    await store.set(KEY, record({ data: { a: 1 } }));
    // The store now answers writes late: after the operation gave up, the write still lands.
    const originalSet = inner.set.bind(inner);
    inner.set = (sid, session, callback) => setTimeout(() => originalSet(sid, session, callback), 120);
    const update = store.update(KEY, { set: { a: 2 }, unset: [], touchedAt: Date.now(), expiresAt: Date.now() + 60_000 });
    await expect(update).rejects.toThrow(/timed out/);
    // A logout now must not run before that write lands (it would be undone): it fails instead.
    await expect(store.destroy(KEY)).rejects.toThrow(/earlier write of this session has not been answered/);
    await new Promise((resolve) => setTimeout(resolve, 150)); // the late write has landed
    inner.set = originalSet;
    await store.destroy(KEY);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(store.get(KEY)).resolves.toBeUndefined();
    expect(inner.sessions.has(KEY)).toBe(false);
  });

  it('bounds a whole operation (its read and its write) by one timeout, sending nothing once it has passed', async () => {
    const inner = new CallbackStore();
    const store = new ExpressSessionStore(inner, { operationTimeout: 60 });
    await store.set(KEY, record());
    const originalGet = inner.get.bind(inner);
    inner.get = (sid, callback) => setTimeout(() => originalGet(sid, callback), 40);
    inner.set = ((sid: string, session: object, callback: (error?: unknown) => void) => setTimeout(() => CallbackStore.prototype.set.call(inner, sid, session, callback), 40));
    const started = Date.now();
    await expect(store.update(KEY, { set: { b: 1 }, unset: [], touchedAt: Date.now(), expiresAt: Date.now() + 60_000 })).rejects.toThrow(SessionStoreError);
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('never creates a record on update or touch of a missing key, and a touch keeps the data written meanwhile', async () => {
    const inner = new CallbackStore();
    const store = new ExpressSessionStore(inner);
    await expect(store.update(KEY, { set: { a: 1 }, unset: [], touchedAt: Date.now(), expiresAt: Date.now() + 1000 })).resolves.toBe(false);
    await store.touch(KEY, record());
    expect(inner.sessions.size).toBe(0);
    await store.set(KEY, record({ data: { a: 1 }, expiresAt: Date.now() + 1_000 }));
    const later = Date.now() + 5_000;
    await Promise.all([
      store.update(KEY, { set: { b: 2 }, unset: [], touchedAt: Date.now(), expiresAt: later }),
      store.touch(KEY, record({ touchedAt: Date.now(), expiresAt: later + 1 })),
    ]);
    await expect(store.get(KEY)).resolves.toMatchObject({ data: { a: 1, b: 2 }, expiresAt: later + 1 });
  });
});

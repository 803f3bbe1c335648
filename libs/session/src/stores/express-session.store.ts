import { SessionConfigError, SessionStoreError, toSessionStoreError } from '../core/errors';
import { ownerRefusal } from '../core/session-owner';
import type { SessionPatch, SessionRecord, SessionStore } from '../core/session-store';
import { callbackOrPromise, isThenable } from './callback-or-promise';
import { fromForeignSession, toForeignSession } from './express-session-record';
import { checkPatchRevision } from './serialized-updates';
import { readOperationTimeout, withOperationTimeout } from './operation-timeout';

type Callback<T = unknown> = (error?: unknown, value?: T) => void;

/**
 * What the adapter uses of an express-session store (connect-redis, connect-pg-simple,
 * connect-mongo, memorystore, ...): `get`, `set` and `destroy`; `touch`, `close()` and the
 * `connect` / `disconnect` / `error` events when it has them. Methods may call back, return a
 * promise, or both.
 */
export interface ExpressSessionCompatibleStore {
  get(sid: string, callback: Callback): unknown;
  set(sid: string, session: object, callback: Callback): unknown;
  destroy(sid: string, callback: Callback): unknown;
  touch?(sid: string, session: object, callback: Callback): unknown;
  close?(callback?: Callback): unknown;
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
  off?(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** Options of {@link ExpressSessionStore}. */
export interface ExpressSessionStoreOptions {
  /**
   * Longest time one operation of the wrapped store may take (ms) before it fails with a
   * `SessionStoreError` (the request answers 503).
   * @default 2000
   */
  operationTimeout?: number;
  /**
   * Call the wrapped store's `close()` when the application shuts down (when it has one). Set
   * false when the application closes it (or the client under it) itself.
   * @default true
   */
  closeStore?: boolean;
  /** Told of the store's `error` events and of its `disconnect`. @default console.warn */
  onError?: (error: Error) => void;
}

/**
 * Any express-session store as a `SessionStore`: `store: new ExpressSessionStore(new RedisStore({ client }))`.
 *
 * What it keeps: the record, inside the session object express-session stores expect, with a
 * `cookie` field whose `expires`, `originalMaxAge` and `maxAge` all give the store the record's
 * expiry, so its own TTL works as with express-session. Keys are the hashed session ids.
 *
 * What a foreign store cannot give, and what is done instead:
 * - No atomic update. A changed session is read again and the change merged onto what the store
 *   holds, then written whole; within this process the writes to one session run one after the
 *   other, so none is lost. Writers on two instances at once can still lose a key, and a write
 *   racing a logout on another instance can bring the session back until its expiry.
 * - No revision check: a write delivered late by a network partition can overwrite a newer one.
 * - No listing per user: `maxSessionsPerUser`, "your sessions" and "sign out everywhere" are
 *   refused with a clear error (as with memcached).
 * - Touches (at most once per touch interval, as for every store) rewrite the record, so the last
 *   activity the idle timeout is measured from is kept: a store's own `touch` only extends its TTL.
 * - A store that says it is disconnected (`disconnect` event, until `connect`) fails fast: 503,
 *   and the health indicator reports it down.
 */
export class ExpressSessionStore implements SessionStore {
  readonly #store: ExpressSessionCompatibleStore;
  readonly #timeout: number;
  readonly #closeStore: boolean;
  readonly #onError: (error: Error) => void;
  /** The store said `disconnect` and not `connect` since. */
  #disconnected = false;
  /** The writes of each key within this process, one after the other (read, merge, write). */
  readonly #writes = new Map<string, Promise<unknown>>();
  readonly #listeners: Array<[string, (...args: unknown[]) => void]> = [];

  constructor(store: ExpressSessionCompatibleStore, options: ExpressSessionStoreOptions = {}) {
    const problems: string[] = [];
    const candidate = store as Partial<ExpressSessionCompatibleStore> | null | undefined;
    if (candidate === null || typeof candidate !== 'object') {
      problems.push('ExpressSessionStore store: must be an express-session store instance (new RedisStore(...), a connect-pg-simple store, ...)');
    } else {
      for (const method of ['get', 'set', 'destroy'] as const) {
        if (typeof candidate[method] !== 'function') problems.push(`ExpressSessionStore store: has no ${method}(sid, ...) method; is it an express-session store instance?`);
      }
    }
    const timeout = readOperationTimeout('ExpressSessionStore', options.operationTimeout, problems);
    if (problems.length > 0) throw new SessionConfigError(problems);
    this.#store = store;
    this.#timeout = timeout;
    this.#closeStore = options.closeStore ?? true;
    this.#onError = options.onError ?? ((error) => console.warn(`ExpressSessionStore: ${error.message}`));
    this.#follow('disconnect', () => {
      this.#disconnected = true;
      this.#onError(new Error('the store reported it is disconnected'));
    });
    this.#follow('connect', () => {
      this.#disconnected = false;
    });
    // With a listener, an 'error' event no longer ends the process: it is reported instead.
    this.#follow('error', (error) => this.#onError(error instanceof Error ? error : new Error(String(error))));
  }

  /**
   * The record; after the writes this process has in flight for the key (it reads its own
   * writes), waited for at most one operation timeout.
   */
  async get(key: string): Promise<SessionRecord | undefined> {
    const pending = this.#writes.get(key);
    if (pending) await settlesWithin(pending, this.#timeout);
    return this.#read(key, Date.now() + this.#timeout);
  }

  async #read(key: string, deadline: number, track?: (raw: Promise<unknown>) => void): Promise<SessionRecord | undefined> {
    // A store keeping one file per session (session-file-store) reports a missing one as ENOENT.
    const value = await this.#run('get', deadline, track, (callback) =>
      this.#store.get(key, (error, session) => callback((error as { code?: unknown } | null | undefined)?.code === 'ENOENT' ? undefined : error, session)),
    );
    const record = fromForeignSession(value);
    return record && record.expiresAt > Date.now() ? record : undefined;
  }

  set(key: string, record: SessionRecord): Promise<void> {
    const refused = record.owner === undefined ? undefined : ownerRefusal(record.owner, 'ExpressSessionStore set');
    if (refused) return Promise.reject(refused);
    return this.#serialised(key, 'set', async (deadline, track) => {
      const current = await this.#read(key, deadline, track);
      await this.#write(key, { ...record, revision: (current?.revision ?? 0) + 1 }, deadline, track);
    });
  }

  async update(key: string, patch: SessionPatch): Promise<boolean> {
    checkPatchRevision('ExpressSessionStore update', patch.revision);
    const refused = patch.owner == null ? undefined : ownerRefusal(patch.owner, 'ExpressSessionStore update');
    if (refused) throw refused;
    // Read again and merge: the change lands on what the store holds now, not on what this
    // request loaded (another request may have changed other keys meanwhile).
    return this.#serialised(key, 'update', async (deadline, track) => {
      const current = await this.#read(key, deadline, track);
      if (!current) return false;
      const data: Record<string, unknown> = { ...current.data, ...patch.set };
      for (const name of patch.unset) delete data[name];
      const cookieMaxAge = patch.cookieMaxAge === undefined ? current.cookieMaxAge : (patch.cookieMaxAge ?? undefined);
      const owner = patch.owner === undefined ? current.owner : (patch.owner ?? undefined);
      await this.#write(key, {
        data,
        createdAt: current.createdAt,
        // A touch that landed meanwhile is never moved back.
        touchedAt: Math.max(current.touchedAt, patch.touchedAt),
        expiresAt: Math.max(current.expiresAt, patch.expiresAt),
        ...(cookieMaxAge === undefined ? {} : { cookieMaxAge }),
        ...(owner === undefined ? {} : { owner }),
        revision: (current.revision ?? 0) + 1,
      }, deadline, track);
      return true;
    });
  }

  destroy(key: string): Promise<void> {
    return this.#serialised(key, 'destroy', async (deadline, track) => {
      await this.#run('destroy', deadline, track, (callback) => this.#store.destroy(key, callback));
    });
  }

  touch(key: string, record: SessionRecord): Promise<void> {
    return this.#serialised(key, 'touch', async (deadline, track) => {
      const current = await this.#read(key, deadline, track);
      if (!current) return; // never creates a record
      await this.#write(
        key,
        { ...current, touchedAt: Math.max(current.touchedAt, record.touchedAt), expiresAt: Math.max(current.expiresAt, record.expiresAt) },
        deadline,
        track,
      );
    });
  }

  /**
   * Waits (at most one operation timeout) for the writes in flight, calls the store's `close()`
   * (unless `closeStore: false`), then stops following its events. A close that throws, rejects or
   * never settles is reported to `onError` and never holds up the shutdown beyond the timeout.
   */
  async close(): Promise<void> {
    await settlesWithin(Promise.allSettled([...this.#writes.values()]), this.#timeout);
    if (this.#closeStore && typeof this.#store.close === 'function') {
      const store = this.#store as ExpressSessionCompatibleStore & { close(callback?: Callback): unknown };
      // close() may call back, return a promise, or return at once (a synchronous close takes no callback).
      const closing = callbackOrPromise((callback) => {
        if (store.close.length > 0) return store.close(callback);
        const returned = store.close();
        if (!isThenable(returned)) callback();
        return returned;
      });
      await withOperationTimeout('close', this.#timeout, () => closing).catch((error: unknown) =>
        this.#onError(error instanceof Error ? error : new Error(String(error))),
      );
    }
    for (const [event, listener] of this.#listeners.splice(0)) this.#store.off?.(event, listener);
  }

  #write(key: string, record: SessionRecord, deadline: number, track: (raw: Promise<unknown>) => void): Promise<unknown> {
    return this.#run('set', deadline, track, (callback) => this.#store.set(key, toForeignSession(record, Date.now()), callback));
  }

  /**
   * One call of the wrapped store, within the operation's deadline (nothing is sent once it has
   * passed), failing as `SessionStoreError`. `track` is told of the store's own answer, which may
   * come after the deadline: the next write of the key waits for it.
   */
  async #run(operation: string, deadline: number, track: ((raw: Promise<unknown>) => void) | undefined, call: (callback: Callback) => unknown): Promise<unknown> {
    if (this.#disconnected) throw new SessionStoreError(`Session store ${operation} failed: the store reported it is disconnected`);
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new SessionStoreError(`Session store ${operation} timed out after ${this.#timeout} ms`);
    const raw = callbackOrPromise(call);
    track?.(raw);
    try {
      return await withOperationTimeout(operation, remaining, () => raw);
    } catch (error) {
      throw toSessionStoreError(operation, error);
    }
  }

  /**
   * Runs the operations on one key one after the other, each within one operation timeout from
   * its start (its read and its write together). The next one starts only once the store has
   * answered every call of the previous one, even a call the previous operation gave up on: a
   * write that lands after its timeout could otherwise land after a later `destroy` and bring the
   * session back. Waiting for it is bounded too: still unanswered after one timeout, the
   * operation fails (503) rather than overtake it.
   */
  #serialised<T>(key: string, operation: string, run: (deadline: number, track: (raw: Promise<unknown>) => void) => Promise<T>): Promise<T> {
    const previous = this.#writes.get(key);
    const raws: Array<Promise<unknown>> = [];
    const job = (async () => {
      if (previous !== undefined && !(await settlesWithin(previous, this.#timeout))) {
        throw new SessionStoreError(`Session store ${operation} failed: an earlier write of this session has not been answered yet`);
      }
      return run(Date.now() + this.#timeout, (raw) => raws.push(raw));
    })();
    // Done when the job is, every store call it made has been answered, and so has the previous
    // operation's (a job that gave up waiting for it must not let the next one overtake it).
    const answered = (): Promise<unknown> => Promise.allSettled([previous, ...raws]);
    const done: Promise<unknown> = job.then(answered, answered);
    this.#writes.set(key, done);
    void done.then(() => {
      if (this.#writes.get(key) === done) this.#writes.delete(key);
    });
    return job;
  }

  #follow(event: string, listener: (...args: unknown[]) => void): void {
    if (typeof this.#store.on !== 'function') return;
    this.#store.on(event, listener);
    this.#listeners.push([event, listener]);
  }
}

/** Whether `promise` settles within `ms` (it is never rejected through here). */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

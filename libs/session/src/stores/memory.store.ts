import { SessionConfigError } from '../core/errors';
import type { SessionOwner, SessionPatch, SessionRecord, SessionStore, StoredSession } from '../core/session-store';
import { ownerRefusal } from '../core/session-owner';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most sessions kept at once. When full, expired sessions are swept (at most once a second),
   * then the least recently written one is evicted, so a flood of new sessions cannot exhaust
   * memory nor make each insert scan the whole store.
   * @default 100_000
   */
  maxSessions?: number;
  /** Milliseconds since the epoch. @default Date.now */
  clock?: () => number;
  /** Where the one-time production warning goes. @default console.warn */
  warn?: (message: string) => void;
}

interface Entry {
  dataJson: string;
  createdAt: number;
  touchedAt: number;
  expiresAt: number;
  cookieMaxAge: number | undefined;
  owner: SessionOwner | undefined;
  revision: number;
}

/** The warning printed once per process when a MemoryStore is created with NODE_ENV=production. */
export const MEMORY_STORE_PRODUCTION_WARNING =
  'MemoryStore is meant for development and tests: sessions are lost on restart and not shared ' +
  'between instances. Use RedisStore, PostgresStore or MysqlStore in production.';

let warnedInProduction = false;

/**
 * Keeps sessions in this process's memory: the default store. Bounded and expiry-aware. Data is
 * kept as JSON text, so what a handler mutates after a save never leaks in without the next save.
 */
export class MemoryStore implements SessionStore {
  readonly #entries = new Map<string, Entry>();
  /** Store keys of each user's sessions (the entries with an owner). */
  readonly #byUser = new Map<string, Set<string>>();
  readonly #maxSessions: number;
  readonly #clock: () => number;
  #lastSweep = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryStoreOptions = {}) {
    const maxSessions = options.maxSessions ?? 100_000;
    if (!Number.isInteger(maxSessions) || maxSessions < 1) {
      throw new SessionConfigError([`MemoryStore maxSessions must be a positive integer (got ${String(maxSessions)})`]);
    }
    this.#maxSessions = maxSessions;
    this.#clock = options.clock ?? Date.now;
    if (process.env.NODE_ENV === 'production' && !warnedInProduction) {
      warnedInProduction = true;
      (options.warn ?? console.warn)(MEMORY_STORE_PRODUCTION_WARNING);
    }
  }

  /** Number of sessions held, expired ones not yet dropped included. */
  get size(): number {
    return this.#entries.size;
  }

  get(key: string): Promise<SessionRecord | undefined> {
    const entry = this.#live(key);
    return Promise.resolve(entry && toRecord(entry));
  }

  set(key: string, record: SessionRecord): Promise<void> {
    const refused = record.owner === undefined ? undefined : ownerRefusal(record.owner, 'MemoryStore set');
    if (refused) return Promise.reject(refused);
    const replaced = this.#live(key);
    if (replaced) {
      this.#remove(key); // re-inserted below: Map order is then least recently written first
    } else if (this.#entries.size >= this.#maxSessions) {
      this.#makeRoom();
    }
    this.#insert(key, {
      dataJson: JSON.stringify(record.data),
      createdAt: record.createdAt,
      touchedAt: record.touchedAt,
      expiresAt: record.expiresAt,
      cookieMaxAge: record.cookieMaxAge,
      owner: record.owner && { ...record.owner },
      revision: (replaced?.revision ?? 0) + 1,
    });
    return Promise.resolve();
  }

  /**
   * Applies the patch on top of the record as it is now. `patch.revision` needs no check here:
   * the write happens before this call returns, in this process, so it can never arrive after a
   * newer one (which is what the revision guards against on network stores). The revision is
   * still advanced, so the store behaves like the others.
   */

  update(key: string, patch: SessionPatch): Promise<boolean> {
    const refused = patch.owner == null ? undefined : ownerRefusal(patch.owner, 'MemoryStore update');
    if (refused) return Promise.reject(refused);
    const entry = this.#live(key);
    if (!entry) return Promise.resolve(false);
    // Synchronous read-merge-write: nothing else runs in between on this event loop, so the
    // update is atomic with respect to any other request.
    const data = JSON.parse(entry.dataJson) as Record<string, unknown>;
    for (const name of patch.unset) delete data[name];
    for (const [name, value] of Object.entries(patch.set)) {
      Object.defineProperty(data, name, { value, writable: true, enumerable: true, configurable: true });
    }
    this.#remove(key);
    this.#insert(key, {
      dataJson: JSON.stringify(data),
      createdAt: entry.createdAt,
      // Never backwards, as in every store (a late update after a newer touch, on network stores).
      touchedAt: Math.max(entry.touchedAt, patch.touchedAt),
      expiresAt: Math.max(entry.expiresAt, patch.expiresAt),
      cookieMaxAge: patch.cookieMaxAge === undefined ? entry.cookieMaxAge : (patch.cookieMaxAge ?? undefined),
      owner: patch.owner === undefined ? entry.owner : patch.owner === null ? undefined : { ...patch.owner },
      revision: entry.revision + 1,
    });
    return Promise.resolve(true);
  }

  destroy(key: string): Promise<void> {
    this.#remove(key);
    return Promise.resolve();
  }

  listByUser(userId: string): Promise<StoredSession[]> {
    const found: StoredSession[] = [];
    for (const key of [...(this.#byUser.get(userId) ?? [])]) {
      const entry = this.#live(key);
      if (entry) found.push({ key, record: toRecord(entry) });
    }
    found.sort((a, b) => a.record.createdAt - b.record.createdAt);
    return Promise.resolve(found);
  }

  touch(key: string, record: SessionRecord): Promise<void> {
    const entry = this.#live(key);
    // Never backwards: of two touches from concurrent requests, the older one may run last.
    if (entry) {
      entry.touchedAt = Math.max(entry.touchedAt, record.touchedAt);
      entry.expiresAt = Math.max(entry.expiresAt, record.expiresAt);
    }
    return Promise.resolve();
  }

  /** Drops every session. */
  clear(): Promise<void> {
    this.#entries.clear();
    this.#byUser.clear();
    return Promise.resolve();
  }

  /** Nothing to release: the data stays until the store is garbage-collected or `clear()`ed. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.#clock()) {
      this.#remove(key);
      return undefined;
    }
    return entry;
  }

  #makeRoom(): void {
    const now = this.#clock();
    // A full sweep is O(n): run it at most once a second, so a flood of new sessions against a
    // full store costs O(1) each (evicting the least recently written) instead of O(n).
    if (now - this.#lastSweep >= 1000) {
      this.#lastSweep = now;
      for (const [key, entry] of this.#entries) {
        if (entry.expiresAt <= now) this.#remove(key);
      }
      if (this.#entries.size < this.#maxSessions) return;
    }
    const oldest = this.#entries.keys().next();
    if (!oldest.done) this.#remove(oldest.value);
  }

  #insert(key: string, entry: Entry): void {
    this.#entries.set(key, entry);
    if (!entry.owner) return;
    let keys = this.#byUser.get(entry.owner.userId);
    if (!keys) this.#byUser.set(entry.owner.userId, (keys = new Set()));
    keys.add(key);
  }

  /** Deletes an entry and its place in its user's index. */
  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    if (!entry.owner) return;
    const keys = this.#byUser.get(entry.owner.userId);
    keys?.delete(key);
    if (keys?.size === 0) this.#byUser.delete(entry.owner.userId);
  }
}

function toRecord(entry: Entry): SessionRecord {
  return {
    data: JSON.parse(entry.dataJson) as Record<string, unknown>,
    createdAt: entry.createdAt,
    touchedAt: entry.touchedAt,
    expiresAt: entry.expiresAt,
    ...(entry.cookieMaxAge === undefined ? {} : { cookieMaxAge: entry.cookieMaxAge }),
    ...(entry.owner === undefined ? {} : { owner: { ...entry.owner } }),
    revision: entry.revision,
  };
}

/**
 * What a store keeps for one session. Plain JSON-serializable data: a store may keep it as a
 * JSON string, a row or a hash, but must give back an equal object.
 */
export interface SessionRecord {
  /** The application's session data. */
  readonly data: Record<string, unknown>;
  /** When the session was created, in ms since the epoch (absolute timeout). */
  readonly createdAt: number;
  /** Last recorded activity, in ms since the epoch (idle timeout). */
  readonly touchedAt: number;
  /**
   * When the store may forget the record, in ms since the epoch. Stores with native TTLs use it;
   * the library re-checks expiry on every load anyway, so a store that keeps a record longer is
   * still safe, only wasteful.
   */
  readonly expiresAt: number;
  /** A per-session cookie lifetime set through `session.cookie.maxAge`, in ms. */
  readonly cookieMaxAge?: number;
}

/**
 * The changes one request made to an existing session, key by key, with its new lifetime.
 * Applying only these (not the whole record) is what lets two concurrent requests that changed
 * different keys of one session both keep their change.
 */
export interface SessionPatch {
  /** Data keys written, with their new JSON-serializable values. */
  readonly set: Readonly<Record<string, unknown>>;
  /** Data keys deleted. */
  readonly unset: readonly string[];
  /** Last activity, in ms since the epoch. */
  readonly touchedAt: number;
  /** When the store may forget the record, in ms since the epoch. */
  readonly expiresAt: number;
  /** New per-session cookie lifetime (ms); `null` removes it; absent leaves it as it is. */
  readonly cookieMaxAge?: number | null;
}

/**
 * The contract every server-side store honours. Keys are SHA-256 hashes of session ids, never the
 * ids themselves. Every method may reject (the library answers 503); none may hang forever.
 * The library README documents each method; `test/stores/store-contract.ts` checks them.
 */
export interface SessionStore {
  /** The live record under `key`, or undefined when absent or past `expiresAt`. */
  get(key: string): Promise<SessionRecord | undefined>;
  /** Creates or replaces the whole record under `key` (new sessions). */
  set(key: string, record: SessionRecord): Promise<void>;
  /**
   * Applies `patch` to the existing record under `key`, atomically with respect to other updates
   * of the same key: keys in `patch.set` are written, keys in `patch.unset` removed, every other
   * key is left as it is, and the lifetime is replaced. Resolves false, writing nothing, when no
   * live record exists: a session destroyed meanwhile (logout in another tab) is never brought
   * back by a slower request.
   */
  update(key: string, patch: SessionPatch): Promise<boolean>;
  /** Removes the record under `key`; removing an absent key is not an error. */
  destroy(key: string): Promise<void>;
  /**
   * Updates only the lifetime (`touchedAt`, `expiresAt`) of an existing record; the data is left
   * as it is. Touching an absent key must not create it.
   */
  touch(key: string, record: SessionRecord): Promise<void>;
  /** Releases what the store created itself (timers, connections it opened). Optional. */
  close?(): Promise<void>;
}

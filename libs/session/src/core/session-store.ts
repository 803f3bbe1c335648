/**
 * Who a signed-in session belongs to and where it was signed in from: what lets a store list a
 * user's sessions ("your devices") and revoke them all. Recorded when a user signs in.
 */
export interface SessionOwner {
  /** The signed-in user's id, as a string (`String(user.id)`), at most 255 characters. */
  readonly userId: string;
  /** The client's address at sign-in, as the application saw it (`req.ip`: mind `trust proxy`). */
  readonly ip?: string;
  /** The `User-Agent` header at sign-in, cut to 512 characters. */
  readonly userAgent?: string;
  /**
   * The latest moment the session can live, however active it stays (createdAt + absoluteTimeout),
   * in ms since the epoch. A per-user index must last at least this long: touches extend a
   * session's `expiresAt` without telling the index.
   */
  readonly endsBy: number;
}

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
  /** The signed-in user and device; absent for an anonymous session. */
  readonly owner?: SessionOwner;
  /**
   * The record's revision: a whole number the store advances on every `set` and `update` of the
   * key, never moving back, and compares in {@link SessionStore.update} (see
   * {@link SessionPatch.revision}). What keeps a write that reaches the store late (held by a
   * network partition after the request gave up on it) from overwriting a newer one. Stores whose
   * writes cannot arrive late (in-process ones) may leave it out; so do records written before a
   * store kept one, which count as revision 0.
   */
  readonly revision?: number;
}

/** A session found by {@link SessionStore.listByUser}: its store key and record. */
export interface StoredSession {
  readonly key: string;
  readonly record: SessionRecord;
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
  /**
   * New owner, when the signed-in user changed without a new session (`session.user` written or
   * deleted directly); `null` removes the owner (and the session from the user's index); absent
   * leaves it as it is.
   */
  readonly owner?: SessionOwner | null;
  /**
   * The revision of the record this change was made on (what `get` returned, or a later revision
   * this writer knows it wrote). The store applies the patch only on top of that revision, in the
   * same atomic step: a statement that arrives after the record moved on (a request that timed out
   * and answered 503, its bytes delivered late when the partition healed) changes nothing. While
   * the operation is still live (not timed out), a store that finds a newer revision reads it and
   * applies the patch on top of it, so concurrent requests still merge key by key. Absent: the
   * patch is applied on top of whatever the store holds (the behaviour before revisions).
   */
  readonly revision?: number;
}

/**
 * The contract every server-side store honours. Keys are SHA-256 hashes of session ids, never the
 * ids themselves. Every method may reject (the library answers 503); none may hang forever.
 * The library README documents each method; `test/stores/store-contract.ts` checks them.
 */
export interface SessionStore {
  /** The live record under `key`, or undefined when absent or past `expiresAt`. */
  get(key: string): Promise<SessionRecord | undefined>;
  /**
   * Creates or replaces the whole record under `key` (new sessions). A store that keeps
   * revisions gives a new key revision 1 and a replaced one its previous revision + 1, so a
   * revision never repeats under one key while the record lives.
   */
  set(key: string, record: SessionRecord): Promise<void>;
  /**
   * Applies `patch` to the existing record under `key`, atomically with respect to other updates
   * of the same key: keys in `patch.set` are written, keys in `patch.unset` removed, every other
   * key is left as it is, and the lifetime is replaced. Resolves false, writing nothing, when no
   * live record exists: a session destroyed meanwhile (logout in another tab) is never brought
   * back by a slower request. With `patch.revision`, a network store must also never let the
   * patch land on a later revision once the operation has given up (timed out): no late write
   * overwrites a newer one. The whole operation, retries after a revision conflict included, is
   * bounded by the store's operation timeout, and nothing is sent once it has passed.
   */
  update(key: string, patch: SessionPatch): Promise<boolean>;
  /** Removes the record under `key`; removing an absent key is not an error. */
  destroy(key: string): Promise<void>;
  /**
   * Updates only the lifetime (`touchedAt`, `expiresAt`) of an existing record; the data is left
   * as it is. Touching an absent key must not create it.
   */
  touch(key: string, record: SessionRecord): Promise<void>;
  /**
   * The live sessions whose `owner.userId` is `userId`, oldest `createdAt` first; an empty list
   * for a user without any. Optional: a store that cannot list (memcached) leaves it out, and
   * then `SessionService.listForUser`, `revokeAllForUser` and `maxSessionsPerUser` are refused
   * with a clear error. Must list every live session of the user, touched ones included (the
   * answer is what "sign out everywhere" acts on); an index entry whose session is gone may be
   * dropped lazily, but is never returned.
   */
  listByUser?(userId: string): Promise<StoredSession[]>;
  /** Releases what the store created itself (timers, connections it opened). Optional. */
  close?(): Promise<void>;
}

import { SessionError } from './errors';
import { isExpired, type ExpiryPolicy } from './expiry';
import type { SessionLifecycle } from './session-lifecycle';
import type { SessionOwner, SessionRecord, SessionStore, StoredSession } from './session-store';
import { storeCall } from './store-call';

/** A signed-in session found for a user: its store key and what the store keeps of it. */
export interface OwnedSession {
  /** The session's store key (SHA-256 of its id). */
  readonly key: string;
  readonly record: SessionRecord;
  readonly owner: SessionOwner;
}

/** Why a session was ended on someone else's behalf. */
export type RevocationReason = 'revoked' | 'revoke-all' | 'max-sessions';

/**
 * The signed-in sessions of each user, for "your sessions", "sign out everywhere" and the
 * per-user session limit. Server-side sessions are listed by the store itself
 * ({@link StoreSessionIndex}); client-side ones by a registry kept beside the revocation list
 * (`SessionRegistry`). `SessionService` works on this interface only.
 */
export interface SessionIndex {
  /** Whether sessions can be listed per user (false with a store without `listByUser`). */
  readonly listsByUser: boolean;
  /**
   * The live signed-in sessions of `userId`, oldest first.
   * @throws SessionError (USER_INDEX_UNSUPPORTED) when the store cannot list per user.
   */
  list(userId: string): Promise<OwnedSession[]>;
  /** The signed-in session under `key`, or undefined when it is gone or signed out. */
  find(key: string): Promise<OwnedSession | undefined>;
  /** Ends a session from outside it, effective on its next request; emits `revoked`. */
  revoke(session: OwnedSession, reason: RevocationReason): Promise<void>;
}

/**
 * Lists a user's records through `store.listByUser`, keeping those whose owner is the user and
 * which are live by the library's own expiry rules (the store answers by its index; the record
 * is the truth).
 */
export async function listOwned(store: SessionStore, userId: string, policy: ExpiryPolicy, now: () => number): Promise<StoredSession[]> {
  const listByUser = store.listByUser?.bind(store);
  if (!listByUser) {
    throw new SessionError(
      `The session store (${store.constructor?.name ?? 'store'}) cannot list sessions per user: it has no listByUser; use a store that has one`,
      'USER_INDEX_UNSUPPORTED',
    );
  }
  const found = await storeCall('listByUser', () => listByUser(userId));
  const at = now();
  return found.filter(({ record }) => record.owner?.userId === userId && !isExpired(record, at, policy));
}

/** Server-side: the store's own records, listed by owner. */
export class StoreSessionIndex implements SessionIndex {
  readonly #store: SessionStore;
  readonly #policy: ExpiryPolicy;
  readonly #clock: () => number;
  readonly #lifecycle: SessionLifecycle;

  constructor(store: SessionStore, policy: ExpiryPolicy, clock: () => number, lifecycle: SessionLifecycle) {
    this.#store = store;
    this.#policy = policy;
    this.#clock = clock;
    this.#lifecycle = lifecycle;
  }

  get listsByUser(): boolean {
    return typeof this.#store.listByUser === 'function';
  }

  async list(userId: string): Promise<OwnedSession[]> {
    const found = await listOwned(this.#store, userId, this.#policy, this.#clock);
    return found.map(({ key, record }) => ({ key, record, owner: record.owner! }));
  }

  async find(key: string): Promise<OwnedSession | undefined> {
    const record = await storeCall('get', () => this.#store.get(key));
    if (!record?.owner || isExpired(record, this.#clock(), this.#policy)) return undefined;
    return { key, record, owner: record.owner };
  }

  async revoke(session: OwnedSession, reason: RevocationReason): Promise<void> {
    await storeCall('destroy', () => this.#store.destroy(session.key));
    this.#lifecycle.emit({ type: 'revoked', sessionIdHash: session.key, at: this.#clock(), userId: session.owner.userId, reason });
  }
}

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

/** What an index works with: the store, the expiry rules, the clock, and where `revoked` goes. */
export interface IndexContext {
  readonly store: SessionStore;
  readonly policy: ExpiryPolicy;
  readonly clock: () => number;
  readonly lifecycle: SessionLifecycle;
}

/** Server-side: the store's own records, listed by owner. */
export class StoreSessionIndex implements SessionIndex {
  readonly #context: IndexContext;

  constructor(context: IndexContext) {
    this.#context = context;
  }

  get listsByUser(): boolean {
    return typeof this.#context.store.listByUser === 'function';
  }

  async list(userId: string): Promise<OwnedSession[]> {
    const { store, policy, clock } = this.#context;
    const found = await listOwned(store, userId, policy, clock);
    return found.map(({ key, record }) => ({ key, record, owner: record.owner! }));
  }

  async find(key: string): Promise<OwnedSession | undefined> {
    const { store, policy, clock } = this.#context;
    const record = await storeCall('get', () => store.get(key));
    if (!record?.owner || isExpired(record, clock(), policy)) return undefined;
    return { key, record, owner: record.owner };
  }

  async revoke(session: OwnedSession, reason: RevocationReason): Promise<void> {
    const { store, clock, lifecycle } = this.#context;
    await storeCall('destroy', () => store.destroy(session.key));
    lifecycle.emit({ type: 'revoked', sessionIdHash: session.key, at: clock(), userId: session.owner.userId, reason });
  }
}

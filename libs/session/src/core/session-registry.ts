import { isExpired } from './expiry';
import { revokedUntil, type RevocationList } from './revocation-list';
import { listOwned, type IndexContext, type OwnedSession, type RevocationReason, type SessionIndex } from './session-index';
import { hashSessionId } from './session-id';
import type { SessionOwner, SessionRecord } from './session-store';
import { storeCall } from './store-call';

/** What the registry keeps of a signed-in client-side session (its data stays in the cookie). */
export interface RegistryEntry {
  readonly createdAt: number;
  /** The session's last activity when the entry was written (rewritten once per touch interval). */
  readonly touchedAt: number;
  readonly expiresAt: number;
  readonly owner: SessionOwner;
}

/** The data field an entry names its session's store key in (the format earlier versions wrote). */
const SESSION_FIELD = 'session';
const STORE_KEY = /^[A-Za-z0-9_-]{43}$/;

/**
 * Where a session's entry lives: a key of its own, derived from the session's, so the revocation
 * list (the session's key itself) is never overwritten by it.
 */
function entryKeyOf(sessionKey: string): string {
  return hashSessionId(`registry:${sessionKey}`);
}

/** The session key an entry stands for; undefined for a record that is not a well-formed entry. */
function sessionKeyIn(record: SessionRecord): string | undefined {
  const value = record.data?.[SESSION_FIELD];
  return typeof value === 'string' && STORE_KEY.test(value) ? value : undefined;
}

/**
 * Client-side sessions, listed per user: a store with `listByUser` keeps one entry per signed-in
 * session (who, from where, until when), apart from the revocation list, so "your sessions",
 * "sign out everywhere" and the session limit work as they do server-side. Revoking puts the
 * session on the revocation list and removes its entry; the list has the last word, since a
 * request in flight while its session was revoked may write the entry again.
 */
export class SessionRegistry implements SessionIndex {
  readonly #context: IndexContext;
  readonly #revocations: RevocationList;

  constructor(context: IndexContext, revocations: RevocationList) {
    this.#context = context;
    this.#revocations = revocations;
  }

  /** Whether the store lists per user: only then are entries kept at all. */
  get listsByUser(): boolean {
    return typeof this.#context.store.listByUser === 'function';
  }

  /** Writes (or rewrites whole) the entry of the session under `key`. */
  record(key: string, entry: RegistryEntry): Promise<void> {
    const record: SessionRecord = { data: { [SESSION_FIELD]: key }, ...entry };
    return storeCall('set', () => this.#context.store.set(entryKeyOf(key), record));
  }

  /** Removes the entry of the session under `key`, if any. */
  remove(key: string): Promise<void> {
    return storeCall('destroy', () => this.#context.store.destroy(entryKeyOf(key)));
  }

  async list(userId: string): Promise<OwnedSession[]> {
    const sessions: OwnedSession[] = [];
    for (const { record } of await listOwned(this.#context.store, userId, this.#context.policy, this.#context.clock)) {
      const key = sessionKeyIn(record);
      if (key !== undefined) sessions.push({ key, record, owner: record.owner! });
    }
    const revoked = await Promise.all(sessions.map((session) => this.#revocations.isRevoked(session.key)));
    return sessions.filter((_, index) => !revoked[index]);
  }

  async find(key: string): Promise<OwnedSession | undefined> {
    const record = await storeCall('get', () => this.#context.store.get(entryKeyOf(key)));
    if (!record?.owner || isExpired(record, this.#context.clock(), this.#context.policy) || sessionKeyIn(record) !== key) return undefined;
    return { key, record, owner: record.owner };
  }

  async revoke(session: OwnedSession, reason: RevocationReason): Promise<void> {
    const now = this.#context.clock();
    // The entry's last activity may lag the cookie's by up to a touch interval (data changes
    // re-seal the cookie without rewriting the entry): a copy sealed up to now, by a clock up to
    // a touch interval ahead, is refused until it has expired.
    const until = revokedUntil(session.record.createdAt, now + this.#context.policy.touchInterval, this.#context.policy);
    await this.#revocations.revoke(session.key, { createdAt: session.record.createdAt, until });
    await this.remove(session.key);
    this.#context.lifecycle.emit({ type: 'revoked', sessionIdHash: session.key, at: this.#context.clock(), userId: session.owner.userId, reason });
  }
}

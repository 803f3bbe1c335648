import { computeExpiresAt, type ExpiryPolicy } from './expiry';
import type { SessionRecord, SessionStore } from './session-store';
import { storeCall } from './store-call';

/**
 * Client-side sessions ended before their cookie expires (logout, revocation, eviction): a copy
 * of the cookie stays authentic until it expires, so its session id is remembered as revoked
 * until the latest moment any copy could still be accepted. Every instance reads the same list.
 */
export interface RevocationList {
  /** Remembers the session (its store key) as revoked until `until` (ms since the epoch). */
  revoke(key: string, revocation: { readonly createdAt: number; readonly until: number }): Promise<void>;
  /** Whether the session is on the list. */
  isRevoked(key: string): Promise<boolean>;
}

/**
 * The moment a revocation can be forgotten: when a cookie whose last touch is at most
 * `lastAccepted` has expired by the idle or absolute timeout.
 */
export function revokedUntil(createdAt: number, lastAccepted: number, policy: ExpiryPolicy): number {
  return computeExpiresAt({ createdAt, touchedAt: lastAccepted }, policy);
}

/**
 * The revocation list kept in the application's session store, one record per revoked session
 * under the session's own key (which a client-side session never uses otherwise): any record
 * there means revoked, whatever it holds, so lists written by earlier versions read the same.
 */
export class StoreRevocationList implements RevocationList {
  readonly #store: SessionStore;
  readonly #clock: () => number;

  constructor(store: SessionStore, clock: () => number) {
    this.#store = store;
    this.#clock = clock;
  }

  revoke(key: string, revocation: { readonly createdAt: number; readonly until: number }): Promise<void> {
    // `{ revoked: true }`: the format every earlier version wrote (any record there means revoked).
    const record: SessionRecord = { data: { revoked: true }, createdAt: revocation.createdAt, touchedAt: this.#clock(), expiresAt: revocation.until };
    return storeCall('set', () => this.#store.set(key, record));
  }

  async isRevoked(key: string): Promise<boolean> {
    return (await storeCall('get', () => this.#store.get(key))) !== undefined;
  }
}

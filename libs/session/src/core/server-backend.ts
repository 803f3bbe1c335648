import { rememberBounded } from './bounded-memo';
import { signSessionId, verifySessionCookie, type VerifiedSessionCookie } from './cookie-signer';
import { SessionError } from './errors';
import { computeExpiresAt, isExpired } from './expiry';
import { planCommit, type CommitPlan } from './commit-plan';
import { interrupt, ownerFor, type BackendContext, type LoadResult, type SessionBackend } from './session-backend';
import { parseSnapshot, snapshotData, type DataSnapshot } from './session-diff';
import { hashSessionId } from './session-id';
import { StoreSessionIndex } from './session-index';
import { userField } from './session-lifecycle';
import { enforceSessionLimit } from './session-limit';
import { signedInUserId } from './session-owner';
import { readSessionData, replaceSessionData, type SessionHandle, type SessionInternals } from './session';
import type { SessionPatch, SessionRecord } from './session-store';
import { storeCall } from './store-call';

/** A cookie value that verified: its session id, which key signed it, and the id's store key. */
interface VerifiedCookieEntry extends VerifiedSessionCookie {
  readonly key: string;
}

/** Verified cookie values remembered per backend (about 200 bytes each). */
const VERIFIED_COOKIE_CACHE_SIZE = 10_000;

/** What a server-side session keeps beyond the common bookkeeping. */
interface ServerSideState {
  /**
   * The store record's revision as loaded, or at most the one this request's last write left
   * (see `SessionPatch.revision`); undefined for a session not stored yet, or loaded from a store
   * that keeps no revision. A store that keeps none ignores what it is sent.
   */
  revision: number | undefined;
}

function modeOf(state: SessionInternals): ServerSideState {
  return state.modeState as ServerSideState;
}

/**
 * Server-side sessions: the cookie holds the session id, signed (HMAC-SHA256 under the key ring);
 * the data lives in the store under the SHA-256 of the id. Writes send only the keys that
 * changed, on the revision the request read.
 */
export class ServerSideBackend implements SessionBackend {
  readonly index: StoreSessionIndex;
  readonly #context: BackendContext;
  /** Cookie values that verified, with their id and store key (see {@link #verifyCached}). */
  readonly #verifiedCookies = new Map<string, VerifiedCookieEntry>();

  constructor(context: BackendContext) {
    this.#context = context;
    this.index = new StoreSessionIndex(context);
  }

  async load(values: readonly string[], quiet = false): Promise<LoadResult> {
    const verified = this.#verifyOne(values);
    if (verified === 'ambiguous') return { discarded: 'ambiguous-duplicates' };
    if (verified === undefined) return { discarded: 'invalid-signature' };
    const { store, clock, policy, lifecycle } = this.#context;
    const key = verified.key;
    const record = await storeCall('get', () => store.get(key));
    const now = clock();
    if (!record || isExpired(record, now, policy)) {
      if (record && !quiet) lifecycle.expired(key, record, record.data ?? {}, now);
      return { discarded: 'unknown-or-expired' };
    }
    const data = record.data ?? {};
    const ownerId = record.owner?.userId;
    return {
      restored: {
        id: verified.id,
        key,
        createdAt: record.createdAt,
        touchedAt: record.touchedAt,
        cookieMaxAge: record.cookieMaxAge,
        data,
        // A cookie verified by an older key of the ring is re-issued with the current one.
        reissue: !verified.signedWithCurrentKey,
        ownerId,
        // A signed-in record without its owner (written before owners existed, or by an older
        // instance during a rolling deploy) is given one by this request's commit, so "sign out
        // everywhere" reaches it.
        touchRequested: ownerId !== signedInUserId(data),
        modeState: { revision: record.revision } satisfies ServerSideState,
      },
    };
  }

  freshState(): ServerSideState {
    return { revision: undefined };
  }

  commit(session: SessionHandle, state: SessionInternals): Promise<void> | undefined {
    const now = this.#context.clock();
    const plan = planCommit(state, snapshotData(readSessionData(session)), now, this.#context.policy);
    if (plan.kind === 'none') return undefined;
    return this.#write(session, state, plan, now);
  }

  async save(session: SessionHandle, state: SessionInternals): Promise<void> {
    await this.commit(session, state);
  }

  prepareCookie(): boolean {
    return true;
  }

  cookieValue(_session: SessionHandle, state: SessionInternals): string {
    return signSessionId(state.id, this.#context.keyRing);
  }

  async forget(state: SessionInternals): Promise<void> {
    if (state.isNew || state.destroyed) return;
    const key = state.key;
    await storeCall('destroy', () => this.#context.store.destroy(key));
  }

  async reload(session: SessionHandle, state: SessionInternals): Promise<void> {
    const { store, clock, policy } = this.#context;
    const key = state.key;
    const record = state.isNew || state.destroyed ? undefined : await storeCall('get', () => store.get(key));
    if (!record || isExpired(record, clock(), policy)) {
      throw new SessionError('The session no longer exists in the store', 'SESSION_NOT_FOUND');
    }
    replaceSessionData(session, record.data ?? {});
    state.persisted = snapshotData(readSessionData(session));
    state.touchedAt = record.touchedAt;
    state.cookieMaxAge = record.cookieMaxAge;
    modeOf(state).revision = record.revision;
  }

  /**
   * Writes the session: the whole record when it is new (or was never read), the changed keys
   * when its data, its cookie lifetime or its owner changed, else only its lifetime (a touch).
   */
  async #write(session: SessionHandle, state: SessionInternals, plan: Exclude<CommitPlan, { kind: 'none' }>, now: number): Promise<void> {
    const { store, policy, lifecycle, options } = this.#context;
    const { snapshot } = plan;
    const diff = plan.kind === 'update' ? plan.diff : undefined;
    const changesData = plan.kind === 'update' && plan.changesData;
    const touchedAt = now;
    const expiresAt = computeExpiresAt({ createdAt: state.createdAt, touchedAt }, policy);
    const key = state.key;
    const mode = modeOf(state);
    // The signed-in user as this write leaves the session: the store's owner follows it.
    const userId = userIdInSnapshot(snapshot);

    if (diff === undefined) {
      // Stores get detached values: later mutations of the session must not leak into the store
      // (a memory store would otherwise see them without a save).
      const owner = userId === undefined ? undefined : ownerFor(state, userId, policy);
      const record: SessionRecord = {
        data: parseSnapshot(snapshot),
        createdAt: state.createdAt,
        touchedAt,
        expiresAt,
        ...(state.cookieMaxAge === undefined ? {} : { cookieMaxAge: state.cookieMaxAge }),
        ...(owner === undefined ? {} : { owner }),
      };
      await storeCall('set', () => store.set(key, record));
      const created = state.isNew;
      state.isNew = false;
      // A stored key starts at revision 1 and only grows: 1 is at or behind what the store holds.
      mode.revision = 1;
      state.ownerId = userId;
      if (created && userId !== undefined) {
        await enforceSessionLimit(this.index, options.maxSessionsPerUser, { userId, key, createdAt: state.createdAt }, () => store.destroy(key));
      }
      // The sign-in is complete: what it queued (`rotated`) is told first, then `created`.
      lifecycle.flush(state);
      if (created) lifecycle.emit({ type: 'created', sessionIdHash: key, at: touchedAt, ...userField(userId) });
    } else if (changesData || userId !== state.ownerId) {
      // The signed-in user changed without login()/logout(), or the record has no owner yet: the
      // store's owner must follow, or "sign out everywhere" would miss (or wrongly list) it.
      const ownerChanged = userId !== state.ownerId;
      const patch: SessionPatch = {
        set: parseSnapshot(snapshot, diff.changed),
        unset: diff.removed,
        touchedAt,
        expiresAt,
        ...(state.cookieMaxAgeChanged ? { cookieMaxAge: state.cookieMaxAge ?? null } : {}),
        ...(ownerChanged ? { owner: userId === undefined ? null : ownerFor(state, userId, policy) } : {}),
        // The store applies the change only on top of this revision once the request has given
        // up on it: a write delivered late by the network never overwrites a newer one.
        ...(mode.revision === undefined ? {} : { revision: mode.revision }),
      };
      const written = await storeCall('update', () => store.update(key, patch));
      if (!written) {
        // Ended meanwhile. A request that only brought the owner up to date (a record from
        // before owners) changed nothing of its own: it ends quietly, the cookie expired.
        if (changesData) interrupt(session, state);
        state.destroyed = true;
        replaceSessionData(session, {});
        return;
      }
      state.ownerId = userId;
      // The write advanced the revision at least this far (further if the store retried on top
      // of a concurrent write); revisions only grow, so a next write expecting this one is safe.
      if (mode.revision !== undefined) mode.revision += 1;
    } else {
      const lifetime: SessionRecord = { data: {}, createdAt: state.createdAt, touchedAt, expiresAt };
      await storeCall('touch', () => store.touch(key, lifetime));
      // A persistent cookie follows the server-side lifetime it was just extended to.
      if (state.cookieMaxAge !== undefined || options.cookie.maxAge !== undefined) state.cookieStale = true;
    }
    state.persisted = snapshot;
    state.touchedAt = touchedAt;
    state.touchRequested = false;
    state.cookieMaxAgeChanged = false;
  }

  #verifyOne(values: readonly string[]): VerifiedCookieEntry | 'ambiguous' | undefined {
    let found: VerifiedCookieEntry | undefined;
    for (const value of values) {
      const verified = this.#verifyCached(value);
      if (!verified) continue;
      // Two different valid sessions in one header: one was tossed in by a sibling subdomain or
      // planted otherwise. Trusting either could fixate the attacker's session, so trust neither.
      if (found && found.id !== verified.id) return 'ambiguous';
      found ??= verified;
    }
    return found;
  }

  /**
   * Verifies a signed cookie value, remembering the values that verified. A browser sends the same
   * value on every request, and an HMAC plus the SHA-256 of its store key are a large part of what
   * a request with an unchanged session costs. Safe to remember: verification of a value under an
   * immutable key ring always gives the same answer, and only genuine values are kept, so a
   * forged value always takes the full constant-time path (what a hit reveals, that a value is
   * genuine, is known already to whoever holds it). Bounded: the oldest entry goes first.
   */
  #verifyCached(value: string): VerifiedCookieEntry | undefined {
    const cached = this.#verifiedCookies.get(value);
    if (cached) return cached;
    const verified = verifySessionCookie(value, this.#context.keyRing);
    if (!verified) return undefined;
    const entry: VerifiedCookieEntry = { ...verified, key: hashSessionId(verified.id) };
    rememberBounded(this.#verifiedCookies, value, entry, VERIFIED_COOKIE_CACHE_SIZE);
    return entry;
  }
}

/** The signed-in user of a data snapshot. */
function userIdInSnapshot(snapshot: DataSnapshot): string | undefined {
  const json = snapshot.get('user');
  return json === undefined ? undefined : signedInUserId({ user: JSON.parse(json) as unknown });
}

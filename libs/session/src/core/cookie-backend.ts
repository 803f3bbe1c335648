import { rememberBounded } from './bounded-memo';
import { planCommit, changesExistingSession } from './commit-plan';
import { maxSealedPlaintextBytes, openCookieValue, sealCookieValue } from './cookie-sealer';
import { SessionError } from './errors';
import { computeExpiresAt, isExpired } from './expiry';
import { revokedUntil, StoreRevocationList, type RevocationList } from './revocation-list';
import { encodeSealedSession, parseSealedSession } from './sealed-session';
import { interrupt, ownerFor, type BackendContext, type LoadResult, type SessionBackend } from './session-backend';
import { parseSnapshot, snapshotData, type DataSnapshot } from './session-diff';
import { hashSessionId } from './session-id';
import { userField, userIdOf } from './session-lifecycle';
import { enforceSessionLimit } from './session-limit';
import { signedInUserId } from './session-owner';
import { SessionRegistry } from './session-registry';
import { isDataKey, readSessionData, replaceSessionData, type SessionHandle, type SessionInternals } from './session';

/** A sealed cookie value that opened: what the session in it starts each request from. */
interface OpenedSealedCookie {
  readonly id: string;
  readonly key: string;
  readonly createdAt: number;
  readonly touchedAt: number;
  readonly cookieMaxAge: number | undefined;
  readonly sealedWithCurrentKey: boolean;
  /** When the registry entry was last written (`r`), if the cookie says. */
  readonly recordedAt: number | undefined;
  /** The parsed data, used once, by the request that opened the value. */
  firstData: Record<string, unknown> | undefined;
  /** Each data key's JSON, set once a session was restored from this value. */
  snapshot: DataSnapshot | undefined;
}

/**
 * Opened sealed cookie values remembered per backend. Each holds one session's data as JSON, at
 * most about 4 KB (the cookie limit), so the cache stays under about 20 MB however large the
 * sessions are; a typical signed-in session takes a few hundred bytes.
 */
const OPENED_COOKIE_CACHE_SIZE = 5_000;

/** What a client-side session keeps beyond the common bookkeeping. */
interface ClientSideState {
  /** The sealed cookie value prepared by the last commit or save. */
  sealedValue: string | undefined;
  /** When the registry entry was last written (rewritten once per touch interval). */
  recordedTouchedAt: number;
}

function modeOf(state: SessionInternals): ClientSideState {
  return state.modeState as ClientSideState;
}

/** What a commit does to the session's registry entry. */
interface RegistryChange {
  /** The signed-in user; undefined removes the entry. */
  readonly userId: string | undefined;
  /** A user signed in (or `session.user` was set to another user) in this request. */
  readonly signedIn: boolean;
  /** An entry may exist from an earlier request. */
  readonly hadEntry: boolean;
}

/**
 * Client-side sessions: the whole session sealed in the cookie (AES-256-GCM under the key ring),
 * so a request reads no store. The store keeps what a cookie cannot: the revocation list (a
 * copy of an ended session's cookie is refused until it would have expired) and, when it lists
 * per user, the registry of signed-in sessions.
 */
export class ClientSideBackend implements SessionBackend {
  readonly index: SessionRegistry;
  readonly #context: BackendContext;
  readonly #revocations: RevocationList;
  /** Whether signed-in sessions are recorded in the registry (a store that lists per user). */
  readonly #registered: boolean;
  /** Sealed cookie values that opened (see {@link #openCached}). */
  readonly #openedCookies = new Map<string, OpenedSealedCookie>();

  constructor(context: BackendContext) {
    this.#context = context;
    this.#revocations = new StoreRevocationList(context.store, context.clock);
    this.index = new SessionRegistry(context, this.#revocations);
    this.#registered = this.index.listsByUser;
  }

  /** Opens the sealed cookie, checks the expiry inside it, then the revocation list. */
  async load(values: readonly string[], quiet = false): Promise<LoadResult> {
    let found: OpenedSealedCookie | undefined;
    for (const value of values) {
      const opened = this.#openCached(value);
      if (!opened) continue;
      // Two different authentic sessions: a tossed cookie must not fixate either.
      if (found && found.id !== opened.id) return { discarded: 'ambiguous-duplicates' };
      found ??= opened;
    }
    if (!found) return { discarded: 'invalid-signature' };
    const opened = found;
    const { clock, policy, lifecycle } = this.#context;
    const now = clock();
    if (isExpired(opened, now, policy)) {
      if (!quiet && lifecycle.has('expired')) {
        const snapshot = opened.snapshot;
        lifecycle.expired(opened.key, opened, snapshot ? parseSnapshot(snapshot, snapshot.has('user') ? ['user'] : []) : (opened.firstData ?? {}), now);
      }
      return { discarded: 'unknown-or-expired' };
    }
    if (await this.#revocations.isRevoked(opened.key)) return { discarded: 'revoked' };
    const { data, snapshot } = this.#takeData(opened);
    return {
      restored: {
        id: opened.id,
        key: opened.key,
        createdAt: opened.createdAt,
        touchedAt: opened.touchedAt,
        cookieMaxAge: opened.cookieMaxAge,
        data,
        snapshot,
        // Opened with an older key of the ring: re-sealed with the current one on this response.
        reissue: !opened.sealedWithCurrentKey,
        ownerId: signedInUserId(data),
        touchRequested: false,
        // A cookie without `r` (sealed before the registry existed) has its entry written now.
        modeState: { sealedValue: undefined, recordedTouchedAt: opened.recordedAt ?? Number.NEGATIVE_INFINITY } satisfies ClientSideState,
      },
    };
  }

  /**
   * The data a request starts from, and its snapshot. The first request that uses an opened value
   * takes the data parsed when it was opened; from then on every request (concurrent ones too)
   * rebuilds it from the snapshot, never from the object handed to that first request, which its
   * handler may change. The snapshot leaves out what a session cannot hold (reserved keys).
   */
  #takeData(opened: OpenedSealedCookie): { data: Record<string, unknown>; snapshot: DataSnapshot } {
    if (opened.snapshot !== undefined) return { data: parseSnapshot(opened.snapshot), snapshot: opened.snapshot };
    const data = opened.firstData ?? {};
    opened.firstData = undefined;
    const snapshot = snapshotData(data);
    for (const key of snapshot.keys()) if (!isDataKey(key)) snapshot.delete(key);
    opened.snapshot = snapshot;
    return { data, snapshot };
  }

  freshState(now: number): ClientSideState {
    return { sealedValue: undefined, recordedTouchedAt: now };
  }

  commit(session: SessionHandle, state: SessionInternals): Promise<void> | undefined {
    const now = this.#context.clock();
    const snapshot = snapshotData(readSessionData(session));
    const plan = planCommit(state, snapshot, now, this.#context.policy);
    // A change to a session that came with the request is a write: like a store's update, it
    // must not be acknowledged when the session was revoked meanwhile (logout elsewhere).
    if (changesExistingSession(state, plan)) {
      return this.#ensureNotRevoked(session, state).then(() => this.#commitSealed(session, state, snapshot, true, this.#context.clock()));
    }
    return this.#commitSealed(session, state, snapshot, plan.kind !== 'none', now);
  }

  async save(session: SessionHandle, state: SessionInternals): Promise<void> {
    const now = this.#context.clock();
    const snapshot = snapshotData(readSessionData(session));
    const plan = planCommit(state, snapshot, now, this.#context.policy);
    if (changesExistingSession(state, plan)) await this.#ensureNotRevoked(session, state);
    if (plan.kind !== 'none') this.#seal(session, state, snapshot, this.#context.clock());
  }

  prepareCookie(session: SessionHandle, state: SessionInternals): boolean {
    try {
      // Streamed responses send headers before the commit: seal what the session holds now.
      const now = this.#context.clock();
      const snapshot = snapshotData(readSessionData(session));
      if (planCommit(state, snapshot, now, this.#context.policy).kind !== 'none') this.#seal(session, state, snapshot, now);
      return true;
    } catch {
      // Too large to seal: no cookie here; the commit that follows fails visibly.
      return false;
    }
  }

  /** The sealed value of a live session (sealing its current state if needed). */
  cookieValue(session: SessionHandle, state: SessionInternals): string {
    const mode = modeOf(state);
    if (mode.sealedValue !== undefined) return mode.sealedValue;
    const data = state.persisted ? parseSnapshot(state.persisted) : readSessionData(session);
    mode.sealedValue = this.#sealValue(this.#payload(state, data, state.touchedAt));
    return mode.sealedValue;
  }

  /**
   * Copies of the cookie stay authentic until they expire, so the id is remembered as revoked
   * until the latest moment any copy could still be accepted: a copy sealed by an instance whose
   * clock runs ahead carries a later touchedAt (accepted within the touch interval), so the id
   * is remembered until that copy, too, has expired.
   */
  async forget(state: SessionInternals): Promise<void> {
    if (state.isNew || state.destroyed) return;
    const lastAccepted = Math.max(this.#context.clock(), state.touchedAt);
    await this.#revocations.revoke(state.key, { createdAt: state.createdAt, until: revokedUntil(state.createdAt, lastAccepted, this.#context.policy) });
    if (this.#registered && state.ownerId !== undefined) {
      await this.index.remove(state.key);
      state.ownerId = undefined;
    }
  }

  /** The cookie is the record: reloading drops the changes made since it was read or saved. */
  reload(session: SessionHandle, state: SessionInternals): Promise<void> {
    if (state.isNew || state.destroyed || !state.persisted) {
      return Promise.reject(new SessionError('The session no longer exists', 'SESSION_NOT_FOUND'));
    }
    replaceSessionData(session, parseSnapshot(state.persisted));
    return Promise.resolve();
  }

  /** Seals the cookie when due, and keeps the session's registry entry in step. */
  #commitSealed(session: SessionHandle, state: SessionInternals, snapshot: DataSnapshot, due: boolean, now: number): Promise<void> | undefined {
    const change = this.#registered ? this.#registryChange(session, state, now) : undefined;
    // A registry rewrite asks for a re-seal (touchRequested), so the cookie carries the new `r`.
    if (due || state.touchRequested) this.#seal(session, state, snapshot, now);
    return change && this.#writeRegistry(state, change);
  }

  /**
   * Fails the commit with {@link SessionInterruptedError} when the session is on the revocation
   * list now. The list has no compare-and-set with the cookie, so a revocation that lands after
   * this check and before the response is seen by the next request instead.
   */
  async #ensureNotRevoked(session: SessionHandle, state: SessionInternals): Promise<void> {
    if (await this.#revocations.isRevoked(state.key)) interrupt(session, state);
  }

  /**
   * Seals the session for the cookie. No I/O. A session too large for a browser cookie fails
   * loudly here rather than being silently dropped by the browser (which would log the user out).
   */
  #seal(session: SessionHandle, state: SessionInternals, snapshot: DataSnapshot, now: number): void {
    const { options, lifecycle } = this.#context;
    const plaintext = this.#payload(state, parseSnapshot(snapshot), now);
    const limit = maxSealedPlaintextBytes(options.name);
    const size = Buffer.byteLength(plaintext, 'utf8');
    if (size > limit) {
      throw new SessionError(
        `Session too large for a cookie: ${size} bytes of session data, at most ${limit} fit in the ` +
          "4096-byte browser limit once sealed. Keep less in the session, or use mode: 'server'.",
        'SESSION_TOO_LARGE',
      );
    }
    modeOf(state).sealedValue = this.#sealValue(plaintext);
    state.persisted = snapshot;
    state.touchedAt = now;
    if (state.isNew && lifecycle.has('created')) {
      lifecycle.queue(state, { type: 'created', sessionIdHash: state.key, at: now, ...userField(userIdOf(session)) });
    }
    state.isNew = false;
    state.cookieStale = true;
    state.touchRequested = false;
    state.cookieMaxAgeChanged = false;
  }

  #sealValue(plaintext: string): string {
    return sealCookieValue(plaintext, this.#context.keyRing, this.#context.options.name, this.#context.random);
  }

  /** The JSON text a client-side cookie seals for this session. */
  #payload(state: SessionInternals, data: Record<string, unknown>, touchedAt: number): string {
    const mode = modeOf(state);
    return encodeSealedSession({
      v: 1,
      i: state.id,
      c: state.createdAt,
      t: touchedAt,
      d: data,
      ...(state.cookieMaxAge === undefined ? {} : { m: state.cookieMaxAge }),
      ...(this.#registered && state.ownerId !== undefined ? { r: mode.recordedTouchedAt } : {}),
    });
  }

  /**
   * What the registry entry of this session needs, decided before the seal, so the cookie
   * records when the entry was written (`r`). Written when the user signs in (or `session.user`
   * changes), removed when they sign out, and rewritten whole once per touch interval: a rewrite,
   * not a touch, so an entry that was lost (a restart of an in-memory store, a cookie from before
   * the registry existed) comes back, and frequent data changes (which re-seal without a due
   * touch) cannot let it lapse. Undefined, nearly always: nothing.
   */
  #registryChange(session: SessionHandle, state: SessionInternals, now: number): RegistryChange | undefined {
    const mode = modeOf(state);
    const userId = userIdOf(session);
    const previous = state.ownerId;
    if (userId === previous && (userId === undefined || now - mode.recordedTouchedAt < this.#context.policy.touchInterval)) {
      return undefined;
    }
    if (userId !== undefined) {
      mode.recordedTouchedAt = now;
      state.touchRequested = true; // re-seal, so the cookie carries the new `r`
    }
    state.ownerId = userId;
    return { userId, signedIn: userId !== undefined && userId !== previous, hadEntry: previous !== undefined };
  }

  async #writeRegistry(state: SessionInternals, change: RegistryChange): Promise<void> {
    const key = state.key;
    const registry = this.index;
    if (change.userId === undefined) {
      if (change.hadEntry) await registry.remove(key);
      return;
    }
    const { policy, options } = this.#context;
    await registry.record(key, {
      createdAt: state.createdAt,
      touchedAt: state.touchedAt,
      expiresAt: computeExpiresAt(state, policy),
      owner: ownerFor(state, change.userId, policy),
    });
    if (change.signedIn) {
      await enforceSessionLimit(registry, options.maxSessionsPerUser, { userId: change.userId, key, createdAt: state.createdAt }, () => registry.remove(key));
    }
  }

  /**
   * Opens a sealed cookie value, remembering the values that opened (as the server-side backend
   * does for signed ones): a browser sends the same value until the session changes, and the
   * AES-GCM open, the JSON parse and the SHA-256 of the id are most of what a client-side request
   * costs. Safe for the same reasons: opening under an immutable key ring is deterministic, and
   * only authentic values are kept. Expiry and revocation are still checked on every request.
   */
  #openCached(value: string): OpenedSealedCookie | undefined {
    const cached = this.#openedCookies.get(value);
    if (cached) return cached;
    const opened = openCookieValue(value, this.#context.keyRing, this.#context.options.name);
    const payload = opened && parseSealedSession(opened.plaintext);
    if (!opened || !payload) return undefined;
    const entry: OpenedSealedCookie = {
      id: payload.i,
      key: hashSessionId(payload.i),
      createdAt: payload.c,
      touchedAt: payload.t,
      cookieMaxAge: payload.m,
      sealedWithCurrentKey: opened.sealedWithCurrentKey,
      recordedAt: payload.r,
      firstData: payload.d,
      snapshot: undefined,
    };
    rememberBounded(this.#openedCookies, value, entry, OPENED_COOKIE_CACHE_SIZE);
    return entry;
  }
}

import { rememberBounded } from './bounded-memo';
import { maxSealedPlaintextBytes, openCookieValue, sealCookieValue } from './cookie-sealer';
import { signSessionId, verifySessionCookie, type VerifiedSessionCookie } from './cookie-signer';
import { readCookieValues } from './cookie-header';
import { SessionError, SessionInterruptedError, SessionStoreError, toSessionStoreError } from './errors';
import { computeExpiresAt, createExpiryPolicy, isExpired, isTouchDue, type ExpiryPolicy } from './expiry';
import { KeyRing } from './key-ring';
import { encodeSealedSession, parseSealedSession } from './sealed-session';
import { generateSessionId, hashSessionId, type RandomSource } from './session-id';
import { SessionEvents, type SessionEvent } from './session-events';
import { sessionOwner, signedInUserId, type SessionDevice } from './session-owner';
import { openPublicSessionId, sealPublicSessionId } from './public-session-id';
import { SessionState, type SessionStateInit } from './session-state';
import type { ResolvedSessionOptions } from './session-options';
import { diffSnapshots, snapshotData, type DataDiff, type DataSnapshot } from './session-diff';
import type { SessionOwner, SessionPatch, SessionRecord, SessionStore, StoredSession } from './session-store';
import {
  internals,
  latestSession,
  readSessionData,
  replaceSessionData,
  SessionHandle,
  type SessionCookieSettings,
  type SessionInternals,
  type SessionRuntime,
} from './session';
import { serializeExpiredCookie, serializeSessionCookie, type SessionCookieAttributes } from './set-cookie';

/** What the session manager needs to know about an incoming request. */
export interface SessionRequest {
  /** The raw `Cookie` header. */
  readonly cookieHeader: string | undefined;
  /** Whether the request arrived over HTTPS (decides `Secure` when `cookie.secure` is 'auto'). */
  readonly secure: boolean;
  /**
   * Where the request comes from (address, user agent), asked only when a user signs in, for
   * the "your sessions" list. Optional: without it sessions are listed without device details.
   */
  readonly device?: () => SessionDevice;
}

/** Injectable sources of time and randomness, so behaviour over time is testable without fake timers. */
export interface SessionManagerDependencies {
  readonly store: SessionStore;
  /** Milliseconds since the epoch. @default Date.now */
  readonly clock?: () => number;
  /** CSPRNG bytes. @default crypto.randomBytes */
  readonly random?: RandomSource;
  /**
   * Maps a store failure met by a session method the handler called (`login()`, `save()`, ...)
   * to the error the handler sees, and likewise a `save()` that found the session ended by
   * another request. The Nest module maps them to 503 and 409 HttpExceptions.
   * @default the error itself
   */
  readonly toHandlerError?: (error: SessionStoreError | SessionInterruptedError) => unknown;
  /**
   * Told why a request's cookie gave a fresh session instead of its session (for debug logs:
   * untrusted input is not an error). Never receives the cookie or the id.
   */
  readonly onDiscardedCookie?: (reason: DiscardedCookieReason) => void;
  /** Where lifecycle events go. @default an emitter nobody listens to */
  readonly events?: SessionEvents;
}

/** A signed-in session found for a user: its store key and what the store keeps of it. */
export interface OwnedSession {
  /** The session's store key (SHA-256 of its id). */
  readonly key: string;
  readonly record: SessionRecord;
  readonly owner: SessionOwner;
}

/** Why the manager ended a session on someone else's behalf (see {@link SessionManager.revokeSession}). */
export type RevocationReason = 'revoked' | 'revoke-all' | 'max-sessions';

/** A cookie value that verified: its session id, which key signed it, and the id's store key. */
interface VerifiedCookieEntry extends VerifiedSessionCookie {
  readonly key: string;
}

/** Verified cookie values remembered per manager (about 200 bytes each). */
const VERIFIED_COOKIE_CACHE_SIZE = 10_000;

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
 * Opened sealed cookie values remembered per manager. Each holds one session's data as JSON, at
 * most about 4 KB (the cookie limit), so the cache stays under about 20 MB however large the
 * sessions are; a typical signed-in session takes a few hundred bytes.
 */
const OPENED_COOKIE_CACHE_SIZE = 5_000;

/** Why a session cookie sent by a client did not load a session. */
export type DiscardedCookieReason =
  | 'invalid-signature'
  | 'ambiguous-duplicates'
  | 'unknown-or-expired'
  | 'revoked';

/**
 * The session engine, free of any framework: turns a request's `Cookie` header into a session
 * (`load`), writes what changed to the store (`commit`) and says which `Set-Cookie` the response
 * needs (`setCookieHeader`). The HTTP adapter only wires these three to a request and response.
 */
export class SessionManager implements SessionRuntime {
  readonly options: ResolvedSessionOptions;
  readonly store: SessionStore;
  readonly #keyRing: KeyRing;
  readonly #policy: ExpiryPolicy;
  readonly #clock: () => number;
  readonly #random: RandomSource | undefined;
  readonly #toHandlerError: (error: SessionStoreError | SessionInterruptedError) => unknown;
  readonly #onDiscardedCookie: (reason: DiscardedCookieReason) => void;
  /** Client-side sessions: the data is sealed in the cookie and `store` is the revocation list. */
  readonly #cookieMode: boolean;
  /** What every session's `cookie` starts from: one object, shared, never modified. */
  readonly #cookieSettings: SessionCookieSettings;
  /** Cookie values that verified, with their id and store key (see {@link #verifyCached}). */
  readonly #verifiedCookies = new Map<string, VerifiedCookieEntry>();
  /** Client-side: sealed cookie values that opened (see {@link #openCached}). */
  readonly #openedCookies = new Map<string, OpenedSealedCookie>();
  readonly #events: SessionEvents;
  /**
   * Client-side, with a store that lists per user: signed-in sessions are also recorded there
   * (a registry entry per session, apart from the revocation list), so they can be listed and
   * revoked like server-side ones.
   */
  readonly #registry: boolean;

  constructor(options: ResolvedSessionOptions, dependencies: SessionManagerDependencies) {
    this.options = options;
    this.store = dependencies.store;
    this.#keyRing = KeyRing.fromSecrets(options.secrets);
    this.#policy = createExpiryPolicy(options.idleTimeout, options.absoluteTimeout);
    this.#clock = dependencies.clock ?? Date.now;
    this.#random = dependencies.random;
    this.#toHandlerError = dependencies.toHandlerError ?? ((error) => error);
    this.#onDiscardedCookie = dependencies.onDiscardedCookie ?? (() => undefined);
    this.#cookieMode = options.mode === 'cookie';
    this.#events = dependencies.events ?? new SessionEvents();
    this.#registry = this.#cookieMode && typeof this.store.listByUser === 'function';
    const cookie = options.cookie;
    this.#cookieSettings = Object.freeze({
      httpOnly: cookie.httpOnly,
      sameSite: cookie.sameSite,
      path: cookie.path,
      domain: cookie.domain,
      maxAge: cookie.maxAge,
      secure: cookie.secure,
    });
  }

  /**
   * Loads the session a request carries, or starts a fresh one. A missing, malformed, forged,
   * ambiguous, unknown or expired cookie is not an error: it yields a fresh session. Only a store
   * failure rejects (with `SessionStoreError`). No cookie means no store call.
   */
  async load(request: SessionRequest): Promise<SessionHandle> {
    const values = readCookieValues(request.cookieHeader, this.options.name);
    if (values.length === 0) return this.#fresh(false, request.secure, request.device);
    if (this.#cookieMode) return this.#loadSealed(values, request.secure, request.device);
    const verified = this.#verifyOne(values);
    if (verified === 'ambiguous' || verified === undefined) {
      this.#onDiscardedCookie(verified === 'ambiguous' ? 'ambiguous-duplicates' : 'invalid-signature');
      return this.#fresh(true, request.secure, request.device);
    }

    const key = verified.key;
    const record = await this.#storeCall('get', () => this.store.get(key));
    const now = this.#clock();
    if (!record || isExpired(record, now, this.#policy)) {
      if (record) this.#emitExpired(key, record, record.data ?? {}, now);
      this.#onDiscardedCookie('unknown-or-expired');
      return this.#fresh(true, request.secure, request.device);
    }

    // A cookie verified by an older key of the ring is re-issued with the current one.
    return this.#restore(verified.id, key, record, record.data ?? {}, !verified.signedWithCurrentKey, request.secure, request.device);
  }

  /**
   * Writes what the request changed, before the response is sent: a new session that holds data
   * (or any, with `saveUninitialized`), changed data, or a due touch. An unchanged session costs
   * nothing. A changed session destroyed meanwhile elsewhere is not brought back.
   */
  commit(handle: SessionHandle): Promise<void> {
    try {
      return this.commitNow(handle) ?? Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * {@link commit} for the HTTP adapter: undefined when the commit is already complete because it
   * needed no I/O (an unchanged session, an anonymous one not worth storing, any client-side
   * session), so the response can be ended at once; otherwise the pending write. Throws
   * synchronously where `commit()` would reject without I/O.
   */
  commitNow(handle: SessionHandle): Promise<void> | undefined {
    const session = latestSession(handle);
    const state = internals(session);
    const result = this.#commitState(session, state);
    // Events that report a completed sign-in wait for the write that completes it.
    if (state.pendingEvents === undefined) return result;
    if (result === undefined) {
      this.#flushEvents(state);
      return undefined;
    }
    return result.then(() => this.#flushEvents(state));
  }

  #commitState(session: SessionHandle, state: SessionInternals): Promise<void> | undefined {
    if (state.failed) {
      // A store call made by the handler failed: what the session holds now may be half-applied,
      // so nothing is saved and the response must not report success (the adapter answers 503).
      throw new SessionStoreError('An earlier session store operation of this request failed; the session was not saved');
    }
    if (state.discarded) return this.destroy(session, 'discard');
    if (state.destroyed) return undefined;
    if (state.isNew && !this.#shouldCreate(session)) return undefined;
    if (this.#cookieMode) {
      const snapshot = snapshotData(readSessionData(session));
      const dataChanged = sealedDataChanged(state, snapshot);
      // A change to a session that came with the request is a write: like a store's update, it
      // must not be acknowledged when the session was revoked meanwhile (logout elsewhere).
      if (!state.isNew && (dataChanged || state.cookieMaxAgeChanged)) {
        return this.#ensureNotRevoked(session, state).then(() => this.#commitSealed(session, state));
      }
      return this.#commitSealed(session, state, snapshot, dataChanged);
    }
    return this.#persist(session, state);
  }

  /** Client-side commit: seal the cookie, and keep the session's registry entry in step. */
  #commitSealed(session: SessionHandle, state: SessionInternals, snapshot?: DataSnapshot, dataChanged?: boolean): Promise<void> | undefined {
    const change = this.#registry ? this.#registryChange(session, state) : undefined;
    this.#seal(session, state, snapshot, dataChanged);
    return change && this.#writeRegistry(state, change);
  }

  /**
   * Client-side: fails the commit with {@link SessionInterruptedError} when the session is on the
   * revocation list now. The list has no compare-and-set with the cookie, so a revocation that
   * lands after this check and before the response is seen by the next request instead.
   */
  async #ensureNotRevoked(session: SessionHandle, state: SessionInternals): Promise<void> {
    const key = state.key;
    if (await this.#storeCall('get', () => this.store.get(key))) this.#interrupted(session, state);
  }

  /**
   * `req.session = null`: the session is destroyed when the response is committed (as in
   * cookie-session). Synchronous, since it is called from a property setter.
   */
  discard(handle: SessionHandle): void {
    internals(latestSession(handle)).discarded = true;
  }

  /**
   * The `Set-Cookie` value the response needs, or undefined when the browser's cookie is right as it is.
   */
  setCookieHeader(handle: SessionHandle): string | undefined {
    const session = latestSession(handle);
    const state = internals(session);
    const attributes = this.#attributes(state);
    if (this.#cookieMode && !state.destroyed && !state.discarded && !state.failed) {
      try {
        // Streamed responses send headers before the commit: seal what the session holds now.
        if (!state.isNew || this.#shouldCreate(session)) this.#seal(session, state);
      } catch {
        // Too large to seal: no cookie here; the commit that follows fails visibly.
        return undefined;
      }
    }
    const alive = !state.destroyed && !state.discarded && (!state.isNew || this.#shouldCreate(session));
    if (!alive) return state.requestHadCookie ? serializeExpiredCookie(attributes) : undefined;
    if (!state.cookieStale && !this.options.rolling) return undefined;
    const now = this.#clock();
    const maxAge = state.cookieMaxAge ?? this.options.cookie.maxAge;
    // A persistent cookie never outlives the absolute timeout: the browser forgets it when the
    // server would refuse it anyway.
    const remaining = state.createdAt + this.options.absoluteTimeout - now;
    return serializeSessionCookie(
      attributes,
      this.#cookieMode ? this.#sealedValueOf(session, state) : signSessionId(state.id, this.#keyRing),
      maxAge === undefined ? undefined : Math.min(maxAge, remaining),
      now,
    );
  }

  /** @internal SessionRuntime: see `session.regenerate()` (express-session semantics: a new object). */
  regenerate(session: SessionHandle): Promise<SessionHandle> {
    return this.#forHandler(session, async (state) => {
      const ended = !state.isNew && !state.destroyed;
      await this.#forget(state);
      if (ended) this.#emit({ type: 'destroyed', sessionIdHash: state.key, at: this.#clock(), ...userField(userIdOf(session)), reason: 'regenerate' });
      return this.#replace(session, state);
    });
  }

  /**
   * @internal SessionRuntime: a new id for the same object, used by `login()`. A session already
   * destroyed in this request (frozen) is replaced instead; resolves with the live session.
   */
  rotate(session: SessionHandle, userId?: string): Promise<SessionHandle> {
    return this.#forHandler(session, async (state) => {
      if (state.destroyed) {
        const next = this.#replace(session, state);
        if (userId !== undefined) this.#queueRotated(internals(next), userId, undefined);
        return next;
      }
      const previous = state.isNew ? undefined : state.key;
      await this.#forget(state);
      const now = this.#clock();
      state.id = generateSessionId(this.#random); // the store key follows from it
      state.createdAt = now;
      state.touchedAt = now;
      state.isNew = true;
      state.persisted = undefined;
      state.cookieStale = true;
      state.touchRequested = false;
      state.cookieMaxAgeChanged = state.cookieMaxAge !== undefined;
      state.sealedValue = undefined;
      state.ownerId = undefined;
      state.revision = undefined;
      state.recordedTouchedAt = now;
      replaceSessionData(session, {});
      if (userId !== undefined) this.#queueRotated(state, userId, previous);
      return session;
    });
  }

  /**
   * @internal SessionRuntime: see `session.destroy()`. The object is then frozen: a write to a
   * destroyed session throws instead of vanishing (use `regenerate()` to start a new one).
   */
  destroy(session: SessionHandle, reason: 'logout' | 'destroy' | 'discard' = 'destroy'): Promise<void> {
    return this.#forHandler(session, async (state) => {
      if (state.destroyed) return;
      const ended = !state.isNew;
      await this.#forget(state);
      if (ended) this.#emit({ type: 'destroyed', sessionIdHash: state.key, at: this.#clock(), ...userField(userIdOf(session)), reason });
      state.destroyed = true;
      replaceSessionData(session, {});
      Object.freeze(session);
    });
  }

  /** @internal SessionRuntime: see `session.reload()`. */
  reload(session: SessionHandle): Promise<void> {
    return this.#forHandler(session, async (state) => {
      if (this.#cookieMode) {
        // The cookie is the record: reloading drops the changes made since it was read or saved.
        if (state.isNew || state.destroyed || !state.persisted) {
          throw new SessionError('The session no longer exists', 'SESSION_NOT_FOUND');
        }
        replaceSessionData(session, parseSnapshot(state.persisted, [...state.persisted.keys()]));
        return;
      }
      const key = state.key;
      const record = state.isNew || state.destroyed ? undefined : await this.#storeCall('get', () => this.store.get(key));
      if (!record || isExpired(record, this.#clock(), this.#policy)) {
        throw new SessionError('The session no longer exists in the store', 'SESSION_NOT_FOUND');
      }
      replaceSessionData(session, record.data ?? {});
      state.persisted = snapshotData(readSessionData(session));
      state.touchedAt = record.touchedAt;
      state.cookieMaxAge = record.cookieMaxAge;
      state.revision = record.revision;
    });
  }

  /** @internal SessionRuntime: see `session.save()`. An explicit save stores even an empty session. */
  save(session: SessionHandle): Promise<void> {
    return this.#forHandler(session, async (state) => {
      if (state.destroyed) return;
      if (!this.#cookieMode) {
        await this.#persist(session, state);
        return;
      }
      const changed = sealedDataChanged(state, snapshotData(readSessionData(session))) || state.cookieMaxAgeChanged;
      if (!state.isNew && changed) await this.#ensureNotRevoked(session, state);
      this.#seal(session, state);
    });
  }

  /** @internal SessionRuntime: see `session.touch()`. */
  touch(session: SessionHandle): void {
    internals(session).touchRequested = true;
  }

  /** @internal SessionRuntime: `session.cookie.maxAge` changed. */
  cookieChanged(session: SessionHandle): void {
    internals(session).cookieStale = true;
  }

  /** @internal SessionService: whether the store can list sessions per user. */
  get listsByUser(): boolean {
    return typeof this.store.listByUser === 'function';
  }

  /**
   * @internal SessionService: the live signed-in sessions of `userId`, oldest first. Client-side,
   * the registry entries, each under the key of the session it stands for.
   * @throws SessionError (USER_INDEX_UNSUPPORTED) when the store cannot list per user.
   */
  async listSessionsOf(userId: string): Promise<OwnedSession[]> {
    const listByUser = this.store.listByUser?.bind(this.store);
    if (!listByUser) {
      throw new SessionError(
        'The session store cannot list sessions per user (MemcachedStore cannot); use MemoryStore, RedisStore, PostgresStore or MysqlStore',
        'USER_INDEX_UNSUPPORTED',
      );
    }
    const found: StoredSession[] = await this.#storeCall('listByUser', () => listByUser(userId));
    const now = this.#clock();
    const sessions: OwnedSession[] = [];
    for (const { key, record } of found) {
      const owner = record.owner;
      // The store answers by its index; the record is the truth, and the library's own expiry
      // rules (absolute timeout) apply as on every load.
      if (!owner || owner.userId !== userId || isExpired(record, now, this.#policy)) continue;
      const sessionKey = this.#cookieMode ? registeredSessionKey(record) : key;
      if (sessionKey !== undefined) sessions.push({ key: sessionKey, record, owner });
    }
    if (!this.#cookieMode) return sessions;
    // Client-side, an entry rewritten by a request that was in flight while its session was
    // revoked may outlive the revocation: the revocation list has the last word.
    const revoked = await Promise.all(sessions.map((session) => this.#storeCall('get', () => this.store.get(session.key))));
    return sessions.filter((_, index) => revoked[index] === undefined);
  }

  /**
   * @internal SessionService: ends a session from outside it, effective on its next request.
   * Server-side the record is deleted; client-side the id joins the revocation list until the
   * latest moment a copy of its cookie could still be accepted, and its registry entry goes.
   */
  async revokeSession(session: OwnedSession, reason: RevocationReason): Promise<void> {
    if (this.#cookieMode) {
      const now = this.#clock();
      const revocation: SessionRecord = {
        data: { revoked: true },
        createdAt: session.record.createdAt,
        touchedAt: now,
        expiresAt: Math.max(session.owner.endsBy, session.record.expiresAt, now + 1),
      };
      await this.#storeCall('set', () => this.store.set(session.key, revocation));
      await this.#storeCall('destroy', () => this.store.destroy(registryKeyOf(session.key)));
    } else {
      await this.#storeCall('destroy', () => this.store.destroy(session.key));
    }
    this.#emit({ type: 'revoked', sessionIdHash: session.key, at: this.#clock(), userId: session.owner.userId, reason });
  }

  /**
   * @internal SessionService: the signed-in session a public id names, or undefined when the id
   * is not one of ours, or the session is gone or signed out.
   */
  async findSession(publicId: string): Promise<OwnedSession | undefined> {
    const key = openPublicSessionId(publicId, this.#keyRing, this.options.name);
    if (key === undefined) return undefined;
    const lookup = this.#cookieMode ? registryKeyOf(key) : key;
    const record = await this.#storeCall('get', () => this.store.get(lookup));
    if (!record?.owner || isExpired(record, this.#clock(), this.#policy)) return undefined;
    if (this.#cookieMode && registeredSessionKey(record) !== key) return undefined;
    return { key, record, owner: record.owner };
  }

  /** @internal SessionService: the id a session is shown under (see `UserSession.id`). */
  publicIdOf(key: string): string {
    return sealPublicSessionId(key, this.#keyRing, this.options.name);
  }

  /** @internal SessionService: whether a public id names the request's own session. */
  isPublicIdOf(publicId: string, handle: SessionHandle): boolean {
    const key = this.storedKeyOf(handle);
    return key !== undefined && openPublicSessionId(publicId, this.#keyRing, this.options.name) === key;
  }

  /** @internal SessionService: the store key of a request's session, if it has been stored. */
  storedKeyOf(handle: SessionHandle): string | undefined {
    const state = internals(latestSession(handle));
    return state.isNew || state.destroyed ? undefined : state.key;
  }

  /** The owner record of a session of `userId` signed in from this request's device. */
  #ownerFor(state: SessionInternals, userId: string): SessionOwner {
    let device: SessionDevice | undefined;
    try {
      device = state.device?.();
    } catch {
      // Device details are informative only: a failing reader must not fail the sign-in.
    }
    return sessionOwner(userId, device, state.createdAt + this.#policy.absoluteTimeout);
  }

  /**
   * `maxSessionsPerUser`: once a new session of `userId` is recorded, the user's oldest sessions
   * go until no more than the limit are left. Sessions are ranked by sign-in time (then key), the
   * new one included, and only sessions older than it are evicted: two sign-ins at the same
   * moment never evict each other (the later one evicts the earlier), and the new session is
   * never evicted by its own sign-in. If the eviction fails, the new session is removed again
   * (best effort) before the failure is reported, so a sign-in answered with 503 leaves no
   * half-made session behind.
   */
  async #enforceSessionLimit(userId: string, currentKey: string, createdAt: number, undo: () => Promise<void>): Promise<void> {
    const limit = this.options.maxSessionsPerUser;
    if (limit === undefined) return;
    try {
      const sessions = (await this.listSessionsOf(userId)).filter((found) => found.key !== currentKey);
      const current = { key: currentKey, createdAt };
      const older = sessions.filter((found) => compareAge(found.key, found.record.createdAt, current.key, current.createdAt) < 0);
      const excess = sessions.length + 1 - limit;
      if (excess <= 0) return;
      older.sort((a, b) => compareAge(a.key, a.record.createdAt, b.key, b.record.createdAt));
      for (const oldest of older.slice(0, excess)) await this.revokeSession(oldest, 'max-sessions');
    } catch (error) {
      await undo().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Client-side: what the registry entry of this session needs, decided before the seal, so the
   * cookie records when the entry was written (`r`). Written when the user signs in (or
   * `session.user` changes), removed when they sign out, and rewritten whole once per touch
   * interval: a rewrite, not a touch, so an entry that was lost (a restart of an in-memory
   * store, a cookie from before the registry existed) comes back, and frequent data changes
   * (which re-seal without a due touch) cannot let it lapse. Undefined, nearly always: nothing.
   */
  #registryChange(session: SessionHandle, state: SessionInternals): RegistryChange | undefined {
    const userId = userIdOf(session);
    const previous = state.ownerId;
    if (userId === previous && (userId === undefined || this.#clock() - state.recordedTouchedAt < this.#policy.touchInterval)) {
      return undefined;
    }
    if (userId !== undefined) {
      state.recordedTouchedAt = this.#clock();
      state.touchRequested = true; // re-seal, so the cookie carries the new `r`
    }
    state.ownerId = userId;
    return { userId, signedIn: userId !== undefined && userId !== previous, hadEntry: previous !== undefined };
  }

  async #writeRegistry(state: SessionInternals, change: RegistryChange): Promise<void> {
    const key = state.key;
    const registryKey = registryKeyOf(key);
    if (change.userId === undefined) {
      if (change.hadEntry) await this.#storeCall('destroy', () => this.store.destroy(registryKey));
      return;
    }
    const entry: SessionRecord = {
      data: { [REGISTERED_SESSION_FIELD]: key },
      createdAt: state.createdAt,
      touchedAt: state.touchedAt,
      expiresAt: computeExpiresAt(state, this.#policy),
      owner: this.#ownerFor(state, change.userId),
    };
    await this.#storeCall('set', () => this.store.set(registryKey, entry));
    if (change.signedIn) await this.#enforceSessionLimit(change.userId, key, state.createdAt, () => this.store.destroy(registryKey));
  }

  #emit(event: SessionEvent): void {
    this.#events.emit(event);
  }

  /** Holds an event until the request's commit has succeeded. */
  #queue(state: SessionInternals, event: SessionEvent): void {
    (state.pendingEvents ??= []).push(event);
  }

  #flushEvents(state: SessionInternals): void {
    const pending = state.pendingEvents;
    state.pendingEvents = undefined;
    for (const event of pending ?? []) this.#emit(event);
  }

  #queueRotated(state: SessionInternals, userId: string, previous: string | undefined): void {
    if (!this.#events.has('rotated')) return;
    this.#queue(state, {
      type: 'rotated',
      sessionIdHash: state.key,
      at: this.#clock(),
      userId,
      ...(previous === undefined ? {} : { previousSessionIdHash: previous }),
      reason: 'login',
    });
  }

  #emitExpired(key: string, timestamps: { readonly createdAt: number; readonly touchedAt: number }, data: Record<string, unknown>, now: number): void {
    if (!this.#events.has('expired')) return;
    const reason = now >= timestamps.createdAt + this.#policy.absoluteTimeout ? 'absolute-timeout' : 'idle-timeout';
    this.#emit({ type: 'expired', sessionIdHash: key, at: now, ...userField(signedInUserId(data)), reason });
  }

  /** Deletes the session's record, if it has one. */
  async #forget(state: SessionInternals): Promise<void> {
    if (state.isNew || state.destroyed) return;
    const key = state.key;
    if (!this.#cookieMode) {
      await this.#storeCall('destroy', () => this.store.destroy(key));
      return;
    }
    // Client-side: copies of the cookie stay valid until they expire, so the id is remembered as
    // revoked until the latest moment any copy could still be accepted.
    // A copy sealed by an instance whose clock runs ahead carries a later touchedAt (accepted
    // within the touch interval): remember the id until that copy, too, has expired.
    const now = this.#clock();
    const lastAccepted = Math.max(now, state.touchedAt);
    const revocation: SessionRecord = {
      data: { revoked: true },
      createdAt: state.createdAt,
      touchedAt: now,
      expiresAt: computeExpiresAt({ createdAt: state.createdAt, touchedAt: lastAccepted }, this.#policy),
    };
    await this.#storeCall('set', () => this.store.set(key, revocation));
    if (this.#registry && state.ownerId !== undefined) {
      await this.#storeCall('destroy', () => this.store.destroy(registryKeyOf(key)));
      state.ownerId = undefined;
    }
  }

  /** Client-side load: open the sealed cookie, check expiry inside it and the revocation list. */
  async #loadSealed(values: readonly string[], secure: boolean, device: (() => SessionDevice) | undefined): Promise<SessionHandle> {
    let found: OpenedSealedCookie | undefined;
    for (const value of values) {
      const opened = this.#openCached(value);
      if (!opened) continue;
      if (found && found.id !== opened.id) {
        // Two different authentic sessions: a tossed cookie must not fixate either.
        this.#onDiscardedCookie('ambiguous-duplicates');
        return this.#fresh(true, secure, device);
      }
      found ??= opened;
    }
    if (!found) {
      this.#onDiscardedCookie('invalid-signature');
      return this.#fresh(true, secure, device);
    }
    const opened = found;
    const now = this.#clock();
    if (isExpired(opened, now, this.#policy)) {
      if (this.#events.has('expired')) {
        this.#emitExpired(opened.key, opened, opened.snapshot ? parseSnapshot(opened.snapshot, ['user'].filter((key) => opened.snapshot!.has(key))) : (opened.firstData ?? {}), now);
      }
      this.#onDiscardedCookie('unknown-or-expired');
      return this.#fresh(true, secure, device);
    }
    if (await this.#storeCall('get', () => this.store.get(opened.key))) {
      this.#onDiscardedCookie('revoked');
      return this.#fresh(true, secure, device);
    }
    // Opened with an older key of the ring: re-sealed with the current one on this response.
    const reissue = !opened.sealedWithCurrentKey;
    if (opened.snapshot) {
      const { snapshot } = opened;
      return this.#restore(opened.id, opened.key, opened, parseSnapshot(snapshot, [...snapshot.keys()]), reissue, secure, device, snapshot);
    }
    const session = this.#restore(opened.id, opened.key, opened, opened.firstData ?? {}, reissue, secure, device);
    // Later requests with this cookie rebuild the data from the snapshot, never from this object,
    // which the handler may change.
    opened.firstData = undefined;
    opened.snapshot = internals(session).persisted;
    return session;
  }

  /**
   * Opens a sealed cookie value, remembering the values that opened (as {@link #verifyCached}
   * does for signed ones): a browser sends the same value until the session changes, and the
   * AES-GCM open, the JSON parse and the SHA-256 of the id are most of what a client-side request
   * costs. Safe for the same reasons: opening under an immutable key ring is deterministic, and
   * only authentic values are kept. Expiry and revocation are still checked on every request.
   */
  #openCached(value: string): OpenedSealedCookie | undefined {
    const cached = this.#openedCookies.get(value);
    if (cached) return cached;
    const opened = openCookieValue(value, this.#keyRing, this.options.name);
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

  /**
   * Client-side commit: when the data changed (or a touch is due), seal the session for the
   * cookie. No I/O. A session too large for a browser cookie fails loudly here rather than
   * being silently dropped by the browser (which would log the user out).
   */
  #seal(
    session: SessionHandle,
    state: SessionInternals,
    snapshot: DataSnapshot = snapshotData(readSessionData(session)),
    dataChanged: boolean = sealedDataChanged(state, snapshot),
  ): void {
    const now = this.#clock();
    if (!state.isNew && !dataChanged && !state.cookieMaxAgeChanged && !state.touchRequested && !isTouchDue(state, now, this.#policy)) {
      return;
    }
    const plaintext = this.#sealedPayload(state, parseSnapshot(snapshot, [...snapshot.keys()]), now);
    const limit = maxSealedPlaintextBytes(this.options.name);
    const size = Buffer.byteLength(plaintext, 'utf8');
    if (size > limit) {
      throw new SessionError(
        `Session too large for a cookie: ${size} bytes of session data, at most ${limit} fit in the ` +
          "4096-byte browser limit once sealed. Keep less in the session, or use mode: 'server'.",
        'SESSION_TOO_LARGE',
      );
    }
    state.sealedValue = sealCookieValue(plaintext, this.#keyRing, this.options.name, this.#random);
    state.persisted = snapshot;
    state.touchedAt = now;
    if (state.isNew && this.#events.has('created')) {
      this.#queue(state, { type: 'created', sessionIdHash: state.key, at: now, ...userField(userIdOf(session)) });
    }
    state.isNew = false;
    state.cookieStale = true;
    state.touchRequested = false;
    state.cookieMaxAgeChanged = false;
  }

  /** The sealed cookie value for a live client-side session (sealing its current state if needed). */
  #sealedValueOf(session: SessionHandle, state: SessionInternals): string {
    if (state.sealedValue !== undefined) return state.sealedValue;
    const data = state.persisted ? parseSnapshot(state.persisted, [...state.persisted.keys()]) : readSessionData(session);
    const plaintext = this.#sealedPayload(state, data, state.touchedAt);
    state.sealedValue = sealCookieValue(plaintext, this.#keyRing, this.options.name, this.#random);
    return state.sealedValue;
  }

  /** The JSON text a client-side cookie seals for this session. */
  #sealedPayload(state: SessionInternals, data: Record<string, unknown>, touchedAt: number): string {
    return encodeSealedSession({
      v: 1,
      i: state.id,
      c: state.createdAt,
      t: touchedAt,
      d: data,
      ...(state.cookieMaxAge === undefined ? {} : { m: state.cookieMaxAge }),
      ...(this.#registry && state.ownerId !== undefined ? { r: state.recordedTouchedAt } : {}),
    });
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
    const verified = verifySessionCookie(value, this.#keyRing);
    if (!verified) return undefined;
    const entry: VerifiedCookieEntry = { ...verified, key: hashSessionId(verified.id) };
    rememberBounded(this.#verifiedCookies, value, entry, VERIFIED_COOKIE_CACHE_SIZE);
    return entry;
  }

  /** Replaces a session by a fresh one (`req.session` follows); the old object is frozen. */
  #replace(session: SessionHandle, state: SessionInternals): SessionHandle {
    const next = this.#fresh(state.requestHadCookie, state.secureRequest, state.device);
    state.successor = next;
    state.destroyed = true;
    if (!Object.isFrozen(session)) Object.freeze(session);
    return next;
  }

  /**
   * Runs a store operation a handler asked for. A store failure marks the session failed (it will
   * not be committed) and is reported through `toHandlerError`, so the HTTP layer can turn it into
   * an error its filters understand (a 503) even under an application-wide catch-all filter.
   */
  async #forHandler<T>(session: SessionHandle, run: (state: SessionInternals) => Promise<T>): Promise<T> {
    const state = internals(session);
    try {
      return await run(state);
    } catch (error) {
      if (error instanceof SessionInterruptedError) throw this.#toHandlerError(error);
      if (!(error instanceof SessionStoreError)) throw error;
      state.failed = true;
      throw this.#toHandlerError(error);
    }
  }

  #fresh(requestHadCookie: boolean, secureRequest: boolean, device: (() => SessionDevice) | undefined): SessionHandle {
    const now = this.#clock();
    // No id yet: it is drawn if and when the session is stored or its cookie sent.
    return this.#create({
      createdAt: now,
      touchedAt: now,
      isNew: true,
      requestHadCookie,
      cookieStale: true,
      cookieMaxAge: undefined,
      secureRequest,
      device,
    });
  }

  /** A session read back from the store (server-side) or from an opened cookie (client-side). */
  #restore(
    id: string,
    key: string,
    lifetime: {
      readonly createdAt: number;
      readonly touchedAt: number;
      readonly cookieMaxAge?: number;
      /** Server-side: the owner the store's record carries. */
      readonly owner?: SessionOwner;
      /** Client-side: when the registry entry was last written, as the cookie says. */
      readonly recordedAt?: number;
      /** Server-side: the record's revision. */
      readonly revision?: number;
    },
    data: Record<string, unknown>,
    reissue: boolean,
    secureRequest: boolean,
    device: (() => SessionDevice) | undefined,
    snapshot?: DataSnapshot,
  ): SessionHandle {
    const session = this.#create({
      id,
      key,
      createdAt: lifetime.createdAt,
      touchedAt: lifetime.touchedAt,
      isNew: false,
      requestHadCookie: true,
      cookieStale: reissue,
      cookieMaxAge: lifetime.cookieMaxAge,
      secureRequest,
      device,
    });
    replaceSessionData(session, data);
    const state = internals(session);
    // A snapshot given is that of `data` (shared and never modified, so no copy is needed).
    state.persisted = snapshot ?? snapshotData(readSessionData(session));
    const userId = signedInUserId(data);
    if (this.#cookieMode) {
      state.ownerId = userId;
      // A cookie without `r` (sealed before the registry existed) has its entry written now.
      state.recordedTouchedAt = lifetime.recordedAt ?? Number.NEGATIVE_INFINITY;
    } else {
      state.revision = lifetime.revision;
      state.ownerId = lifetime.owner?.userId;
      // A signed-in record without its owner (written before owners existed, or by an older
      // instance during a rolling deploy) is given one by this request's commit, so "sign out
      // everywhere" reaches it.
      if (state.ownerId !== userId) state.touchRequested = true;
    }
    if (this.#events.has('loaded')) {
      this.#emit({ type: 'loaded', sessionIdHash: key, at: this.#clock(), ...userField(userId) });
    }
    return session;
  }

  /** A session object; the bookkeeping a session starts every request with is filled in here. */
  #create(init: SessionStateInit): SessionHandle {
    return new SessionHandle(this, new SessionState(init, this.#random), this.#cookieSettings);
  }

  #shouldCreate(session: SessionHandle): boolean {
    return this.options.saveUninitialized || Object.keys(session).length > 0;
  }

  /** Server-side commit: undefined when nothing needs writing, else the write. */
  #persist(session: SessionHandle, state: SessionInternals): Promise<void> | undefined {
    const snapshot = snapshotData(readSessionData(session));
    const diff = state.persisted && diffSnapshots(state.persisted, snapshot);
    const dataChanged = !diff || diff.changed.length > 0 || diff.removed.length > 0;
    const now = this.#clock();
    if (!state.isNew && !dataChanged && !state.cookieMaxAgeChanged && !state.touchRequested && !isTouchDue(state, now, this.#policy)) {
      return undefined;
    }
    return this.#write(session, state, snapshot, diff, dataChanged, now);
  }

  async #write(
    session: SessionHandle,
    state: SessionInternals,
    snapshot: DataSnapshot,
    diff: DataDiff | undefined,
    dataChanged: boolean,
    now: number,
  ): Promise<void> {
    const touchedAt = now;
    const expiresAt = computeExpiresAt({ createdAt: state.createdAt, touchedAt }, this.#policy);
    const key = state.key;
    // The signed-in user as this write leaves the session: the store's owner follows it.
    const userId = userIdInSnapshot(snapshot);

    if (state.isNew || !diff) {
      // Stores get detached values: later mutations of the session must not leak into the store
      // (a memory store would otherwise see them without a save).
      const data = parseSnapshot(snapshot, [...snapshot.keys()]);
      const owner = userId === undefined ? undefined : this.#ownerFor(state, userId);
      const record: SessionRecord = {
        data,
        createdAt: state.createdAt,
        touchedAt,
        expiresAt,
        ...(state.cookieMaxAge === undefined ? {} : { cookieMaxAge: state.cookieMaxAge }),
        ...(owner === undefined ? {} : { owner }),
      };
      await this.#storeCall('set', () => this.store.set(key, record));
      const created = state.isNew;
      state.isNew = false;
      // A stored key starts at revision 1 and only grows: 1 is at or behind what the store holds.
      state.revision = 1;
      state.ownerId = userId;
      if (created && userId !== undefined) await this.#enforceSessionLimit(userId, key, state.createdAt, () => this.store.destroy(key));
      // The sign-in is complete: what it queued (`rotated`) is told first, then `created`.
      this.#flushEvents(state);
      if (created) this.#emit({ type: 'created', sessionIdHash: key, at: now, ...userField(userId) });
    } else if (dataChanged || state.cookieMaxAgeChanged || userId !== state.ownerId) {
      // The signed-in user changed without login()/logout(), or the record has no owner yet: the
      // store's owner must follow, or "sign out everywhere" would miss (or wrongly list) it.
      const ownerChanged = userId !== state.ownerId;
      const patch: SessionPatch = {
        set: parseSnapshot(snapshot, diff.changed),
        unset: diff.removed,
        touchedAt,
        expiresAt,
        ...(state.cookieMaxAgeChanged ? { cookieMaxAge: state.cookieMaxAge ?? null } : {}),
        ...(ownerChanged ? { owner: userId === undefined ? null : this.#ownerFor(state, userId) } : {}),
        // The store applies the change only on top of this revision once the request has given
        // up on it: a write delivered late by the network never overwrites a newer one.
        ...(state.revision === undefined ? {} : { revision: state.revision }),
      };
      const written = await this.#storeCall('update', () => this.store.update(key, patch));
      if (!written) {
        // Ended meanwhile. A request that only brought the owner up to date (a record from
        // before owners) changed nothing of its own: it ends quietly, the cookie expired.
        if (dataChanged || state.cookieMaxAgeChanged) this.#interrupted(session, state);
        state.destroyed = true;
        replaceSessionData(session, {});
        return;
      }
      state.ownerId = userId;
      // The write advanced the revision at least this far (further if the store retried on top
      // of a concurrent write); revisions only grow, so a next write expecting this one is safe.
      if (state.revision !== undefined) state.revision += 1;
    } else {
      const lifetime: SessionRecord = { data: {}, createdAt: state.createdAt, touchedAt, expiresAt };
      await this.#storeCall('touch', () => this.store.touch(key, lifetime));
      // A persistent cookie follows the server-side lifetime it was just extended to.
      if (state.cookieMaxAge !== undefined || this.options.cookie.maxAge !== undefined) state.cookieStale = true;
    }
    state.persisted = snapshot;
    state.touchedAt = touchedAt;
    state.touchRequested = false;
    state.cookieMaxAgeChanged = false;
  }

  /**
   * The session ended in the store (logout in another tab, revocation, eviction) while this
   * request changed it. It stays ended: nothing is written, the cookie is expired, and the
   * request fails with 409 rather than answer as if its change had been kept.
   */
  #interrupted(session: SessionHandle, state: SessionInternals): never {
    state.destroyed = true;
    replaceSessionData(session, {});
    throw new SessionInterruptedError();
  }

  #attributes(state: SessionInternals): SessionCookieAttributes {
    const cookie = this.options.cookie;
    return {
      name: this.options.name,
      httpOnly: cookie.httpOnly,
      sameSite: cookie.sameSite,
      path: cookie.path,
      domain: cookie.domain,
      secure: cookie.secure === 'auto' ? state.secureRequest : cookie.secure,
    };
  }

  async #storeCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw toSessionStoreError(operation, error);
    }
  }
}

/** What a client-side commit does to the session's registry entry. */
interface RegistryChange {
  /** The signed-in user; undefined removes the entry. */
  readonly userId: string | undefined;
  /** A user signed in (or `session.user` was set to another user) in this request. */
  readonly signedIn: boolean;
  /** An entry may exist from an earlier request. */
  readonly hadEntry: boolean;
}

/** Whether `snapshot` differs from what the session's cookie was last sealed (or read) with. */
function sealedDataChanged(state: SessionInternals, snapshot: DataSnapshot): boolean {
  const diff = state.persisted && diffSnapshots(state.persisted, snapshot);
  return !diff || diff.changed.length > 0 || diff.removed.length > 0;
}

/** Orders sessions by sign-in time, then key, so two sessions never tie. */
function compareAge(keyA: string, createdA: number, keyB: string, createdB: number): number {
  if (createdA !== createdB) return createdA - createdB;
  return keyA < keyB ? -1 : keyA > keyB ? 1 : 0;
}

/** Client-side registry entries name the session they stand for in this data field. */
const REGISTERED_SESSION_FIELD = 'session';
const STORE_KEY_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Where a client-side session's registry entry lives: a key of its own, derived from the
 * session's, so the revocation list (the session's key itself) is never overwritten by it.
 */
function registryKeyOf(sessionKey: string): string {
  return hashSessionId(`registry:${sessionKey}`);
}

/** The session key a registry entry stands for, or undefined for anything else. */
function registeredSessionKey(record: SessionRecord): string | undefined {
  const value = record.data?.[REGISTERED_SESSION_FIELD];
  return typeof value === 'string' && STORE_KEY_PATTERN.test(value) ? value : undefined;
}

/** The signed-in user of a session object (its `user` data key). */
function userIdOf(session: SessionHandle): string | undefined {
  return signedInUserId(session as unknown as Record<string, unknown>);
}

/** The signed-in user of a data snapshot. */
function userIdInSnapshot(snapshot: DataSnapshot): string | undefined {
  const json = snapshot.get('user');
  return json === undefined ? undefined : signedInUserId({ user: JSON.parse(json) as unknown });
}

/** `{ userId }` for an event, or nothing for an anonymous session. */
function userField(userId: string | undefined): { userId?: string } {
  return userId === undefined ? {} : { userId };
}

function parseSnapshot(snapshot: DataSnapshot, keys: readonly string[]): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const key of keys) values[key] = JSON.parse(snapshot.get(key)!) as unknown;
  return values;
}

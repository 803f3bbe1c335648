import { ClientSideBackend } from './cookie-backend';
import { readCookieValues } from './cookie-header';
import { SessionInterruptedError, SessionStoreError } from './errors';
import { createExpiryPolicy, type ExpiryPolicy } from './expiry';
import { KeyRing } from './key-ring';
import { PublicSessionIds } from './public-session-id';
import { ServerSideBackend } from './server-backend';
import type { DiscardedCookieReason, RestoredSession, SessionBackend } from './session-backend';
import { snapshotData } from './session-diff';
import { SessionEvents } from './session-events';
import { generateSessionId, type RandomSource } from './session-id';
import type { SessionIndex } from './session-index';
import { SessionLifecycle, userField, userIdOf } from './session-lifecycle';
import type { ResolvedSessionOptions } from './session-options';
import type { SessionDevice } from './session-owner';
import type { SessionManagerDependencies } from './session-dependencies';
import type { SessionRequest } from './session-request';
import { SessionState, startOver, type SessionStateInit } from './session-state';
import type { SessionStore } from './session-store';
import {
  internals,
  latestSession,
  readSessionData,
  replaceSessionData,
  SessionHandle,
  type SessionCookieSettings,
  type SessionInternals,
} from './session';
import { decideSetCookie } from './set-cookie-decision';

export type { DiscardedCookieReason } from './session-backend';

/**
 * The session engine, free of any framework: turns a request's `Cookie` header into a session
 * (`load`), writes what changed when the request ends (`commit`) and says which `Set-Cookie` the
 * response needs (`setCookieHeader`); the session object calls it for `login()`, `destroy()` and
 * the rest (`SessionRuntime`). Where a session lives is its backend's business, chosen here once
 * by `options.mode`: {@link ServerSideBackend} or {@link ClientSideBackend}.
 */
// The SessionRuntime methods are internal (left out of the published types): it is passed to
// each session as its runtime, structurally, so the public class does not declare that it is one.
export class SessionManager {
  readonly options: ResolvedSessionOptions;
  readonly store: SessionStore;
  /** The signed-in sessions per user, for `SessionService` and the session limit. */
  readonly index: SessionIndex;
  /** The ids sessions are shown under in "your sessions" lists. */
  readonly publicIds: PublicSessionIds;
  readonly #backend: SessionBackend;
  readonly #policy: ExpiryPolicy;
  readonly #clock: () => number;
  readonly #random: RandomSource | undefined;
  readonly #lifecycle: SessionLifecycle;
  readonly #toHandlerError: (error: SessionStoreError | SessionInterruptedError) => unknown;
  readonly #onDiscardedCookie: (reason: DiscardedCookieReason) => void;
  /** What every session's `cookie` starts from: one object, shared, never modified. */
  readonly #cookieSettings: SessionCookieSettings;

  constructor(options: ResolvedSessionOptions, dependencies: SessionManagerDependencies) {
    this.options = options;
    this.store = dependencies.store;
    const keyRing = KeyRing.fromSecrets(options.secrets);
    this.#policy = createExpiryPolicy(options.idleTimeout, options.absoluteTimeout);
    this.#clock = dependencies.clock ?? Date.now;
    this.#random = dependencies.random;
    this.#toHandlerError = dependencies.toHandlerError ?? ((error) => error);
    this.#onDiscardedCookie = dependencies.onDiscardedCookie ?? (() => undefined);
    this.#lifecycle = new SessionLifecycle(dependencies.events ?? new SessionEvents(), this.#clock, this.#policy);
    const context = { options, store: this.store, keyRing, policy: this.#policy, clock: this.#clock, random: this.#random, lifecycle: this.#lifecycle };
    this.#backend = options.mode === 'cookie' ? new ClientSideBackend(context) : new ServerSideBackend(context);
    this.index = this.#backend.index;
    this.publicIds = new PublicSessionIds(keyRing, options.name);
    const { httpOnly, sameSite, path, domain, maxAge, secure } = options.cookie;
    this.#cookieSettings = Object.freeze({ httpOnly, sameSite, path, domain, maxAge, secure });
  }

  /**
   * Loads the session a request carries, or starts a fresh one. A missing, malformed, forged,
   * ambiguous, unknown, expired or revoked cookie is not an error: it yields a fresh session.
   * Only a store failure rejects (with `SessionStoreError`). No cookie means no store call.
   * `quiet` (a socket rechecking the cookie its handshake carried) reports nothing: no `loaded`
   * or `expired` event, no discarded-cookie log; a stale copy of a cookie is no news.
   */
  async load(request: SessionRequest, options?: { readonly quiet?: boolean }): Promise<SessionHandle> {
    const quiet = options?.quiet === true; // no object allocated per request on the hot path
    const values = readCookieValues(request.cookieHeader, this.options.name);
    if (values.length === 0) return this.#fresh(false, request.secure, request.device);
    const result = await this.#backend.load(values, quiet);
    if (result.discarded !== undefined) {
      if (!quiet) this.#onDiscardedCookie(result.discarded);
      return this.#fresh(true, request.secure, request.device);
    }
    return this.#restore(result.restored, request, quiet);
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
   * needed no I/O (an unchanged session, an anonymous one not worth storing, a client-side seal),
   * so the response can be ended at once; otherwise the pending write. Throws synchronously
   * where `commit()` would reject without I/O.
   */
  commitNow(handle: SessionHandle): Promise<void> | undefined {
    const session = latestSession(handle);
    const state = internals(session);
    const result = this.#commitState(session, state);
    // Events that report a completed sign-in wait for the write that completes it.
    if (state.pendingEvents === undefined) return result;
    if (result === undefined) {
      this.#lifecycle.flush(state);
      return undefined;
    }
    return result.then(() => this.#lifecycle.flush(state));
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
    return this.#backend.commit(session, state);
  }

  /**
   * `req.session = null`: the session is destroyed when the response is committed (as in
   * cookie-session). Synchronous, since it is called from a property setter.
   */
  discard(handle: SessionHandle): void {
    internals(latestSession(handle)).discarded = true;
  }

  /** The `Set-Cookie` value the response needs, or undefined when the browser's cookie is right as it is. */
  setCookieHeader(handle: SessionHandle): string | undefined {
    const session = latestSession(handle);
    const state = internals(session);
    const alive = !state.destroyed && !state.discarded && (!state.isNew || this.#shouldCreate(session));
    if (alive && !state.failed && !this.#backend.prepareCookie(session, state)) return undefined;
    return decideSetCookie(this.options, this.#policy, { state, alive, value: () => this.#backend.cookieValue(session, state), clock: this.#clock });
  }

  /** @internal SessionRuntime: see `session.regenerate()` (express-session semantics: a new object). */
  regenerate(session: SessionHandle): Promise<SessionHandle> {
    return this.#forHandler(session, async (state) => {
      const ended = !state.isNew && !state.destroyed;
      await this.#backend.forget(state);
      if (ended) this.#lifecycle.destroyed(state.key, session, 'regenerate');
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
        if (userId !== undefined) this.#lifecycle.queueRotated(internals(next), userId, undefined);
        return next;
      }
      const previous = state.isNew ? undefined : state.key;
      await this.#backend.forget(state);
      const now = this.#clock();
      startOver(state, generateSessionId(this.#random), now, this.#backend.freshState(now));
      replaceSessionData(session, {});
      if (userId !== undefined) this.#lifecycle.queueRotated(state, userId, previous);
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
      await this.#backend.forget(state);
      if (ended) this.#lifecycle.destroyed(state.key, session, reason);
      state.destroyed = true;
      replaceSessionData(session, {});
      Object.freeze(session);
    });
  }

  /** @internal SessionRuntime: see `session.reload()`. */
  reload(session: SessionHandle): Promise<void> {
    return this.#forHandler(session, (state) => this.#backend.reload(session, state));
  }

  /** @internal SessionRuntime: see `session.save()`. An explicit save stores even an empty session. */
  save(session: SessionHandle): Promise<void> {
    return this.#forHandler(session, async (state) => {
      if (!state.destroyed) await this.#backend.save(session, state);
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
      modeState: this.#backend.freshState(now),
    });
  }

  /** A session its backend found behind the request's cookie. */
  #restore(restored: RestoredSession, request: SessionRequest, quiet: boolean): SessionHandle {
    const session = this.#create({
      id: restored.id,
      key: restored.key,
      createdAt: restored.createdAt,
      touchedAt: restored.touchedAt,
      isNew: false,
      requestHadCookie: true,
      cookieStale: restored.reissue,
      cookieMaxAge: restored.cookieMaxAge,
      secureRequest: request.secure,
      device: request.device,
      modeState: restored.modeState,
    });
    replaceSessionData(session, restored.data);
    const state = internals(session);
    // A snapshot given is that of `data` (shared and never modified, so no copy is needed).
    state.persisted = restored.snapshot ?? snapshotData(readSessionData(session));
    state.ownerId = restored.ownerId;
    state.touchRequested = restored.touchRequested;
    if (!quiet && this.#lifecycle.has('loaded')) {
      this.#lifecycle.emit({ type: 'loaded', sessionIdHash: restored.key, at: this.#clock(), ...userField(userIdOf(session)) });
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
}

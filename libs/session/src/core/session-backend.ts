import { SessionInterruptedError } from './errors';
import type { ExpiryPolicy } from './expiry';
import type { KeyRing } from './key-ring';
import type { DataSnapshot } from './session-diff';
import type { SessionIndex } from './session-index';
import type { SessionLifecycle } from './session-lifecycle';
import type { ResolvedSessionOptions } from './session-options';
import { sessionOwner, type SessionDevice } from './session-owner';
import type { RandomSource } from './session-id';
import { replaceSessionData, type SessionHandle, type SessionInternals } from './session';
import type { SessionOwner, SessionStore } from './session-store';

/** Why a session cookie sent by a client did not load a session. */
export type DiscardedCookieReason = 'invalid-signature' | 'ambiguous-duplicates' | 'unknown-or-expired' | 'revoked';

/** What both backends share: the settings, the key ring, time, randomness and the events. */
export interface BackendContext {
  readonly options: ResolvedSessionOptions;
  readonly store: SessionStore;
  readonly keyRing: KeyRing;
  readonly policy: ExpiryPolicy;
  readonly clock: () => number;
  readonly random: RandomSource | undefined;
  readonly lifecycle: SessionLifecycle;
}

/** A session a backend found behind a request's cookie, for the engine to restore. */
export interface RestoredSession {
  readonly id: string;
  readonly key: string;
  readonly createdAt: number;
  readonly touchedAt: number;
  readonly cookieMaxAge: number | undefined;
  readonly data: Record<string, unknown>;
  /** The snapshot of `data`, when the backend already has it (shared, never modified). */
  readonly snapshot?: DataSnapshot;
  /** The cookie is re-issued on this response (an older key of the ring signed or sealed it). */
  readonly reissue: boolean;
  /** The user the stored record (client-side: the registry entry) is owned by. */
  readonly ownerId: string | undefined;
  /** The session's write is due whatever it changes (an owner to record). */
  readonly touchRequested: boolean;
  /** The backend's own per-session state (see {@link SessionBackend.freshState}). */
  readonly modeState: unknown;
}

/** What a backend made of a request's cookie values. */
export type LoadResult = { readonly restored: RestoredSession; readonly discarded?: undefined } | { readonly discarded: DiscardedCookieReason };

/**
 * Where a session lives between requests, one implementation per mode, chosen once by the
 * engine: server-side (a signed id in the cookie, the data in the store) or client-side (the
 * data sealed in the cookie, the store keeping the revocation list and the per-user registry).
 * The engine decides when (load, commit, the session methods); the backend how.
 */
export interface SessionBackend {
  /** The per-user index of this mode's sessions (for `SessionService` and the session limit). */
  readonly index: SessionIndex;
  /**
   * Loads the session the cookie values (all those with our name, at least one) carry. `quiet`:
   * report no `expired` event (a socket's recheck reading its handshake's cookie again).
   */
  load(values: readonly string[], quiet?: boolean): Promise<LoadResult>;
  /** The backend's state for a session that starts now (fresh, or rotated to a new id). */
  freshState(now: number): unknown;
  /**
   * Writes what the request changed, at the end of the request: undefined when that needed no
   * I/O (nothing due, or a client-side seal), else the write.
   */
  commit(session: SessionHandle, state: SessionInternals): Promise<void> | undefined;
  /** `session.save()`: writes now, even an empty new session. */
  save(session: SessionHandle, state: SessionInternals): Promise<void>;
  /**
   * Gets the cookie value ready before headers go out (a streamed response sends them before the
   * commit). False when there can be no cookie (too large to seal: the commit then fails visibly).
   */
  prepareCookie(session: SessionHandle, state: SessionInternals): boolean;
  /** The cookie value of a live session. */
  cookieValue(session: SessionHandle, state: SessionInternals): string;
  /** Ends the stored session, if it was stored (logout, destroy, regenerate, rotation). */
  forget(state: SessionInternals): Promise<void>;
  /** `session.reload()`: the data as last stored; rejects when the session no longer exists. */
  reload(session: SessionHandle, state: SessionInternals): Promise<void>;
}

/** The owner record of a session of `userId` signed in from the request's device. */
export function ownerFor(state: SessionInternals, userId: string, policy: ExpiryPolicy): SessionOwner {
  let device: SessionDevice | undefined;
  try {
    device = state.device?.();
  } catch {
    // Device details are informative only: a failing reader must not fail the sign-in.
  }
  return sessionOwner(userId, device, state.createdAt + policy.absoluteTimeout);
}

/**
 * The session ended in the store (logout in another tab, revocation, eviction) while this
 * request changed it. It stays ended: nothing is written, the cookie is expired, and the
 * request fails with 409 rather than answer as if its change had been kept.
 */
export function interrupt(session: SessionHandle, state: SessionInternals): never {
  state.destroyed = true;
  replaceSessionData(session, {});
  throw new SessionInterruptedError();
}

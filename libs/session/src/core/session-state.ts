import type { SessionHandle, SessionInternals } from './session';
import type { DataSnapshot } from './session-diff';
import type { SessionDevice } from './session-owner';
import type { SessionEvent } from './session-events';
import { generateSessionId, hashSessionId, type RandomSource } from './session-id';

/** What a session's bookkeeping starts from; `id` left out draws a new one when first needed. */
export type SessionStateInit = Pick<
  SessionInternals,
  'createdAt' | 'touchedAt' | 'isNew' | 'requestHadCookie' | 'cookieStale' | 'cookieMaxAge' | 'secureRequest' | 'device' | 'modeState'
> & { readonly id?: string; readonly key?: string };

/**
 * The per-request bookkeeping of a session. A fresh session draws its id (32 random bytes, then
 * a SHA-256 for the store key) only when something needs it: most requests without a cookie end
 * without ever storing their empty session, and should not pay for an id they throw away.
 */
export class SessionState implements SessionInternals {
  #id: string | undefined;
  #key: string | undefined;
  readonly #random: RandomSource | undefined;

  createdAt: number;
  touchedAt: number;
  isNew: boolean;
  persisted: DataSnapshot | undefined = undefined;
  destroyed = false;
  requestHadCookie: boolean;
  cookieStale: boolean;
  touchRequested = false;
  cookieMaxAge: number | undefined;
  cookieMaxAgeChanged = false;
  secureRequest: boolean;
  successor: SessionHandle | undefined = undefined;
  failed = false;
  discarded = false;
  device: (() => SessionDevice) | undefined;
  ownerId: string | undefined = undefined;
  pendingEvents: SessionEvent[] | undefined = undefined;
  modeState: unknown;

  constructor(init: SessionStateInit, random: RandomSource | undefined) {
    this.#id = init.id;
    this.#key = init.key;
    this.#random = random;
    this.createdAt = init.createdAt;
    this.touchedAt = init.touchedAt;
    this.isNew = init.isNew;
    this.requestHadCookie = init.requestHadCookie;
    this.cookieStale = init.cookieStale;
    this.cookieMaxAge = init.cookieMaxAge;
    this.secureRequest = init.secureRequest;
    this.device = init.device;
    this.modeState = init.modeState;
  }

  get id(): string {
    return (this.#id ??= generateSessionId(this.#random));
  }

  /** A new id also means a new store key, derived when next read. */
  set id(value: string) {
    this.#id = value;
    this.#key = undefined;
  }

  /** The store key: the SHA-256 of the id, so a store dump reveals no usable session id. */
  get key(): string {
    return (this.#key ??= hashSessionId(this.id));
  }

  set key(value: string) {
    this.#key = value;
  }
}

/**
 * The same session object under a new id (`login()` rotates it): a new session from `now` on,
 * not stored yet, its cookie to be sent, nothing owned, its data to be replaced by the caller.
 * A per-session cookie lifetime is kept, and written with the new session.
 */
export function startOver(state: SessionInternals, id: string, now: number, modeState: unknown): void {
  state.id = id; // the store key follows from it
  state.createdAt = now;
  state.touchedAt = now;
  state.isNew = true;
  state.persisted = undefined;
  state.cookieStale = true;
  state.touchRequested = false;
  state.cookieMaxAgeChanged = state.cookieMaxAge !== undefined;
  state.ownerId = undefined;
  state.modeState = modeState;
}

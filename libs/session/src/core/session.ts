import { SessionError } from './errors';
import { addFlash, FLASH_KEY, readFlash, type FlashMessages } from './flash';
import type { DataSnapshot } from './session-diff';
import { MAX_USER_ID_LENGTH, toUserId, type SessionDevice } from './session-owner';
import type { SessionEvent } from './session-events';
import type { SameSite } from './session-options';

/** Node-style callback accepted by every asynchronous session method, as in express-session. */
export type SessionCallback = (error?: unknown) => void;

/** The authenticated principal that `login()` records and `SessionGuard` checks. */
export interface SessionUser {
  /** Stable identifier of the user. */
  readonly id: string | number;
  /** Roles checked by `@Roles()`. */
  readonly roles?: readonly string[];
  readonly [key: string]: unknown;
}

/**
 * Data every session may hold. Augment it to type your own keys everywhere:
 *
 * @example
 * declare module 'nest-session-auth' {
 *   interface SessionData { cart: string[] }
 * }
 */
export interface SessionData {
  /** Set by `login()`, removed by `logout()`. */
  user?: SessionUser;
}

/** Options of {@link SessionHandle.login}. */
export interface SessionLoginOptions {
  /** Keys of the anonymous session to carry into the new one (everything else is dropped). */
  readonly keep?: readonly string[];
}

/**
 * The operations a session delegates to the session manager. An interface, so the session object
 * needs no import of the manager (and tests can supply their own).
 */
export interface SessionRuntime {
  regenerate(session: SessionHandle): Promise<SessionHandle>;
  /** A new id for a user signing in (`userId` is reported in the `rotated` event). */
  rotate(session: SessionHandle, userId?: string): Promise<SessionHandle>;
  destroy(session: SessionHandle, reason?: 'logout' | 'destroy' | 'discard'): Promise<void>;
  reload(session: SessionHandle): Promise<void>;
  save(session: SessionHandle): Promise<void>;
  touch(session: SessionHandle): void;
  cookieChanged(session: SessionHandle): void;
}

/** Per-request bookkeeping of a session. Internal: reachable only through the manager. */
export interface SessionInternals {
  id: string;
  key: string;
  createdAt: number;
  touchedAt: number;
  /** Not yet in the store. */
  isNew: boolean;
  /** Each data key's JSON as last read from or written to the store (change detection). */
  persisted: DataSnapshot | undefined;
  destroyed: boolean;
  /** The request carried a cookie with our name (valid or not): a dead one must be expired. */
  requestHadCookie: boolean;
  /** The cookie must be (re)sent: new id, old signing key, changed lifetime. */
  cookieStale: boolean;
  touchRequested: boolean;
  /** A per-session cookie lifetime (ms), from `session.cookie.maxAge`. */
  cookieMaxAge: number | undefined;
  cookieMaxAgeChanged: boolean;
  /** The request arrived over HTTPS (for `secure: 'auto'`). */
  secureRequest: boolean;
  /** The session that replaced this one through `regenerate()`; this one is then frozen. */
  successor: SessionHandle | undefined;
  /** A store operation the handler asked for failed: the session must not be committed. */
  failed: boolean;
  /** `req.session = null` was set: the session is destroyed when the response is committed. */
  discarded: boolean;
  /** Where the request comes from, read only when a user signs in (for the owner record). */
  device: (() => SessionDevice) | undefined;
  /** The user id the store's record (or, client-side, the registry entry) is owned by. */
  ownerId: string | undefined;
  /** Events that only hold once the commit succeeds (`rotated`, client-side `created`). */
  pendingEvents: SessionEvent[] | undefined;
  /**
   * What the mode's backend keeps per session (the record's revision server-side; the sealed
   * value and the registry's last write client-side): the backend's alone to read and write.
   */
  modeState: unknown;
}

// Set by SessionHandle's static block: the only way to read its private fields from outside.
let readInternals: (session: SessionHandle) => SessionInternals | undefined;
let readRuntime: (session: SessionHandle) => SessionRuntime | undefined;

function internalsOrUndefined(session: SessionHandle): SessionInternals | undefined {
  return readInternals(session);
}

/**
 * `session.cookie`: the cookie settings of this session, shaped like express-session's. Setting
 * `maxAge` (ms) changes this session's cookie lifetime ("remember me") and is persisted.
 */
export class SessionCookie {
  readonly httpOnly: boolean;
  readonly sameSite: SameSite;
  readonly path: string;
  readonly domain: string | undefined;
  readonly #session: SessionHandle;
  readonly #defaultMaxAge: number | undefined;
  readonly #secure: boolean | 'auto';

  constructor(
    session: SessionHandle,
    settings: {
      httpOnly: boolean;
      sameSite: SameSite;
      path: string;
      domain: string | undefined;
      maxAge: number | undefined;
      secure: boolean | 'auto';
    },
  ) {
    this.#session = session;
    this.httpOnly = settings.httpOnly;
    this.sameSite = settings.sameSite;
    this.path = settings.path;
    this.domain = settings.domain;
    this.#defaultMaxAge = settings.maxAge;
    this.#secure = settings.secure;
  }

  /** Cookie lifetime in ms; undefined for a browser-session cookie. */
  get maxAge(): number | undefined {
    return internalsOrUndefined(latestSession(this.#session))?.cookieMaxAge ?? this.#defaultMaxAge;
  }

  set maxAge(value: number | undefined) {
    if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
      throw new RangeError('session.cookie.maxAge must be a positive number of milliseconds or undefined');
    }
    // Through a replaced (regenerated) session the setting applies to the live one, not lost.
    const session = latestSession(this.#session);
    const state = internalsOrUndefined(session);
    if (!state) return;
    state.cookieMaxAge = value;
    state.cookieMaxAgeChanged = true;
    runtime(session).cookieChanged(session);
  }

  /** Whether the cookie carries `Secure` on this response. */
  get secure(): boolean {
    if (this.#secure !== 'auto') return this.#secure;
    return internalsOrUndefined(latestSession(this.#session))?.secureRequest ?? false;
  }

  toJSON(): Record<string, unknown> {
    return { httpOnly: this.httpOnly, sameSite: this.sameSite, path: this.path, domain: this.domain, maxAge: this.maxAge };
  }
}

/**
 * The session of one request (`req.session`, or `@Session()` in a handler). Its own enumerable
 * properties are the session data; the methods mirror express-session's, each returning a Promise
 * and also accepting a callback, so passport and code written for express-session work on it.
 */
export class SessionHandle {
  // Private fields, not properties: the session's own enumerable properties are its data, so the
  // bookkeeping must stay out of Object.keys, JSON and spreads. (Cheaper per request than WeakMaps.)
  readonly #internals: SessionInternals;
  readonly #runtime: SessionRuntime;
  readonly #cookieSettings: SessionCookieSettings;
  #cookie: SessionCookie | undefined;

  static {
    readInternals = (session) => (#internals in session ? session.#internals : undefined);
    readRuntime = (session) => (#runtime in session ? session.#runtime : undefined);
  }

  /**
   * @internal Made by the session manager only.
   * @param cookie - The cookie settings; shared between sessions, never modified.
   */
  constructor(runtime: SessionRuntime, internals: SessionInternals, cookie: SessionCookieSettings) {
    this.#internals = internals;
    this.#runtime = runtime;
    this.#cookieSettings = cookie;
  }

  /** The session id. Changes on `regenerate()` and `login()`. Never log or expose it. */
  get id(): string {
    return internals(this).id;
  }

  /** The cookie settings of this session. */
  get cookie(): SessionCookie {
    // Made on first use: most requests never look at it.
    return (this.#cookie ??= new SessionCookie(this, this.#cookieSettings));
  }

  /** Whether the session is not in the store yet (it holds no data, or was just rotated). */
  get isNew(): boolean {
    return internals(this).isNew;
  }

  /**
   * Replaces the session by a fresh empty one with a new id, as express-session does: the old one
   * is deleted from the store, `req.session` becomes the new session (also the promise's value),
   * and this object is frozen with its old data (readable, e.g. by passport's `keepSessionInfo`;
   * writing to it throws instead of being silently lost). To rotate the id and keep using the same
   * object, use {@link login}.
   */
  regenerate(callback?: SessionCallback): Promise<SessionHandle> {
    return settle(runtime(this).regenerate(latestSession(this)), callback);
  }

  /** Deletes the session from the store now; the response expires the cookie. */
  destroy(callback?: SessionCallback): Promise<void> {
    return settle(runtime(this).destroy(latestSession(this), 'destroy'), callback);
  }

  /** Re-reads the data from the store, dropping unsaved changes. Rejects if the session is gone. */
  reload(callback?: SessionCallback): Promise<void> {
    return settle(runtime(this).reload(latestSession(this)), callback);
  }

  /** Writes the session to the store now (it is also saved automatically before the response). */
  save(callback?: SessionCallback): Promise<void> {
    return settle(runtime(this).save(latestSession(this)), callback);
  }

  /** Marks the session active: its idle deadline is extended when the response is committed. */
  touch(callback?: SessionCallback): Promise<void> {
    runtime(this).touch(latestSession(this));
    return settle(Promise.resolve(), callback);
  }

  /**
   * Signs a user in: rotates the session id (so an id planted before login never becomes an
   * authenticated session: session fixation), drops the anonymous data except `keep`, and records
   * `user`.
   */
  async login(user: SessionUser, options: SessionLoginOptions = {}): Promise<void> {
    if (user === null || typeof user !== 'object' || user.id === undefined || user.id === null) {
      throw new TypeError('session.login(user) needs a user object with an id');
    }
    const userId = toUserId(user.id);
    if (userId === undefined) {
      throw new TypeError(`session.login(user): user.id must be a non-empty, well-formed string of at most ${MAX_USER_ID_LENGTH} characters or a finite number`);
    }
    const current = latestSession(this);
    const data = current as unknown as Record<string, unknown>;
    const kept = (options.keep ?? []).filter((key) => isDataKey(key) && Object.hasOwn(data, key))
      .map((key) => [key, data[key]] as const);
    // Rotated in place: the object a handler holds (`@Session()`) stays the live session (unless
    // it was destroyed earlier in this request; the replacement is then `req.session`).
    const live = (await runtime(this).rotate(current, userId)) as unknown as Record<string, unknown>;
    for (const [key, value] of kept) live[key] = value;
    live.user = user;
  }

  /**
   * Signs the user out: deletes the session from the store and expires the cookie. The object is
   * then frozen (a later write throws rather than being lost); `regenerate()` starts a new session.
   */
  logout(): Promise<void> {
    return runtime(this).destroy(latestSession(this), 'logout');
  }

  /**
   * Adds a flash message: kept in the session until read with {@link consumeFlash}, so it
   * survives a redirect (the session is saved before the response leaves). Survives `login()`
   * only when named in `keep` (`keep: [FLASH_KEY]`); set it after signing in instead.
   *
   * @example
   * session.flash('info', 'Signed in');  // then redirect; the next page shows it once
   */
  flash(type: string, message: string): void {
    if (typeof type !== 'string' || type === '' || typeof message !== 'string') {
      throw new TypeError('session.flash(type, message) takes a non-empty type and a message, both strings');
    }
    const data = latestSession(this) as unknown as Record<string, unknown>;
    data[FLASH_KEY] = addFlash(readFlash(data[FLASH_KEY]), type, message);
  }

  /**
   * Returns the flash messages and removes them from the session (read once): all of them by
   * type, or those of one type as a list. Empty when there are none.
   */
  consumeFlash(): FlashMessages;
  consumeFlash(type: string): string[];
  consumeFlash(type?: string): FlashMessages | string[] {
    const data = latestSession(this) as unknown as Record<string, unknown>;
    const messages = readFlash(data[FLASH_KEY]);
    if (type === undefined) {
      if (Object.hasOwn(data, FLASH_KEY)) delete data[FLASH_KEY];
      return messages;
    }
    const taken = Object.hasOwn(messages, type) ? messages[type] : [];
    if (taken.length === 0) return [];
    delete messages[type];
    if (Object.keys(messages).length === 0) delete data[FLASH_KEY];
    else data[FLASH_KEY] = messages;
    return taken;
  }
}

/** The cookie settings a session starts from. */
export type SessionCookieSettings = ConstructorParameters<typeof SessionCookie>[1];


// Names that must never become data keys: the session's own API, and the keys that reach an
// object's prototype (`__proto__` from JSON.parse is an own key and would re-point the prototype).
const RESERVED_KEYS = new Set<string>([
  ...Object.getOwnPropertyNames(SessionHandle.prototype),
  '__proto__',
  'prototype',
]);

/** True when `key` can be a session data key. */
export function isDataKey(key: string): boolean {
  return !RESERVED_KEYS.has(key);
}

/** The bookkeeping of a session. For the session manager only. */
export function internals(session: SessionHandle): SessionInternals {
  const found = readInternals(session);
  if (!found) throw new SessionError('Not a session created by the session manager', 'SESSION_NOT_LOADED');
  return found;
}

/** The live session: `session` itself, or what replaced it through `regenerate()`. */
export function latestSession(session: SessionHandle): SessionHandle {
  let current = session;
  for (let next = readInternals(current)?.successor; next; next = readInternals(current)?.successor) current = next;
  return current;
}

function runtime(session: SessionHandle): SessionRuntime {
  const found = readRuntime(session);
  if (!found) throw new SessionError('Not a session created by the session manager', 'SESSION_NOT_LOADED');
  return found;
}

/** The store key of a request's session (its live one), or undefined while it has never been stored. */
export function storedKeyOf(handle: SessionHandle): string | undefined {
  const state = internals(latestSession(handle));
  return state.isNew || state.destroyed ? undefined : state.key;
}

/** The session's data as a plain object: its own enumerable properties. */
export function readSessionData(session: SessionHandle): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const key of Object.keys(session)) {
    if (isDataKey(key)) data[key] = (session as unknown as Record<string, unknown>)[key];
  }
  return data;
}

/** Replaces the session's data, skipping reserved and prototype-reaching keys. */
export function replaceSessionData(session: SessionHandle, data: Record<string, unknown>): void {
  const target = session as unknown as Record<string, unknown>;
  for (const key of Object.keys(session)) delete target[key];
  for (const key of Object.keys(data)) {
    if (isDataKey(key)) {
      Object.defineProperty(target, key, { value: data[key], writable: true, enumerable: true, configurable: true });
    }
  }
}

function settle<T>(promise: Promise<T>, callback: SessionCallback | undefined): Promise<T> {
  if (!callback) return promise;
  // With a callback the caller handles errors there; the returned promise must then never reject,
  // or the same error would also surface as an unhandled rejection.
  return promise.then(
    (value) => {
      callback();
      return value;
    },
    (error: unknown) => {
      callback(error);
      return undefined as T;
    },
  );
}

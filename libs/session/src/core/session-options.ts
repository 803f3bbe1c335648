import { SessionConfigError } from './errors';
import { MIN_SECRET_BYTES } from './key-ring';
import type { SessionStore } from './session-store';

/** `SameSite` attribute of the session cookie. */
export type SameSite = 'lax' | 'strict' | 'none';

/** Attributes of the session cookie. */
export interface SessionCookieOptions {
  /**
   * Hides the cookie from `document.cookie`, so an XSS bug cannot read the session id.
   * @default true
   */
  httpOnly?: boolean;
  /**
   * Whether the browser sends the cookie on cross-site requests. `lax` blocks it on cross-site
   * POSTs (the main CSRF vector) while keeping top-level links working; `none` requires
   * `secure: true`.
   * @default 'lax'
   */
  sameSite?: SameSite;
  /**
   * Path the cookie is sent for.
   * @default '/'
   */
  path?: string;
  /**
   * `true` always sets `Secure`; `'auto'` sets it when the request came over HTTPS (through
   * `trustProxy` behind a proxy); `false` never does. Use `true` in production.
   * @default 'auto'
   */
  secure?: boolean | 'auto';
  /**
   * Domain the cookie is shared with. Leave unset: a Domain attribute also sends the cookie to
   * every subdomain, and any of them can then read or overwrite it.
   * @default undefined (this host only)
   */
  domain?: string;
  /**
   * Lifetime of the cookie in the browser, in milliseconds. Unset gives a browser-session cookie
   * (gone when the browser closes). The server enforces `idleTimeout` and `absoluteTimeout`
   * whatever the cookie says.
   * @default undefined
   */
  maxAge?: number;
}

/** Options of `SessionModule.forRoot()` / `forRootAsync()`. */
export interface SessionOptions {
  /**
   * The key ring: one secret, or several newest first. The first signs new cookies; all verify,
   * so a secret is rotated by prepending a new one and removing the old one after `absoluteTimeout`.
   * Each must be at least 32 bytes of high-entropy text (`openssl rand -base64 48`). Never commit it.
   */
  secret: string | readonly string[];
  /**
   * Name of the session cookie. In production prefer `__Host-sid`: browsers then refuse the cookie
   * unless it is Secure, host-only and on path `/`, which defeats cookie tossing from subdomains.
   * @default 'sid'
   */
  name?: string;
  /** Attributes of the session cookie. */
  cookie?: SessionCookieOptions;
  /**
   * Trust `X-Forwarded-Proto` to decide whether a request came over HTTPS (for `secure: 'auto'`).
   * Enable only behind a proxy that sets it; otherwise a client could forge it.
   * @default false
   */
  trustProxy?: boolean;
  /**
   * A session unused for this long is dead, in milliseconds. Enforced server-side on every load.
   * @default 1_800_000 (30 minutes)
   */
  idleTimeout?: number;
  /**
   * A session older than this is dead however active, in milliseconds. Bounds how long a stolen
   * cookie stays useful. Enforced server-side on every load.
   * @default 43_200_000 (12 hours)
   */
  absoluteTimeout?: number;
  /**
   * Send the cookie again on every response (refreshing a persistent cookie's Max-Age). Without it
   * the cookie is sent only when it changes or its lifetime is extended.
   * @default false
   */
  rolling?: boolean;
  /**
   * Store new sessions and send their cookie even when they hold no data. Keep `false`: anonymous
   * visitors then cost no store write and receive no cookie.
   * @default false
   */
  saveUninitialized?: boolean;
  /**
   * `'server'`: the cookie holds only a signed random id and the data lives in `store`.
   * `'cookie'`: the whole session is sealed (AES-256-GCM) into the cookie; no store is needed,
   * only `revocationStore` to remember logged-out sessions. The session API, the guard and the
   * decorators are the same in both modes. See the README for the trade-offs (size, revocation).
   * @default 'server'
   */
  mode?: 'server' | 'cookie';
  /**
   * Where server-side sessions live (`mode: 'server'` only). The default keeps them in process
   * memory: fine for development and tests, lost on restart and not shared between instances.
   * @default new MemoryStore()
   */
  store?: SessionStore;
  /**
   * Where client-side sessions that were logged out or rotated are remembered until their own
   * expiry (`mode: 'cookie'` only), so a replayed copy of the cookie is refused. Use a shared store
   * (Redis, PostgreSQL) with several instances: with the in-memory default a logout is only known
   * to the instance that saw it.
   * @default new MemoryStore()
   */
  revocationStore?: SessionStore;
  /**
   * Most sessions one user may have at once. When a user signs in on one device more, their
   * oldest sessions are revoked (a `revoked` event with reason `max-sessions`). Needs a store that
   * lists sessions per user (every bundled store but MemcachedStore); unset means no limit.
   */
  maxSessionsPerUser?: number;
}

/** Session options with every default applied and every value validated. */
export interface ResolvedSessionOptions {
  readonly secrets: readonly string[];
  readonly name: string;
  readonly cookie: {
    readonly httpOnly: boolean;
    readonly sameSite: SameSite;
    readonly path: string;
    readonly secure: boolean | 'auto';
    readonly domain: string | undefined;
    readonly maxAge: number | undefined;
  };
  readonly trustProxy: boolean;
  readonly idleTimeout: number;
  readonly absoluteTimeout: number;
  readonly rolling: boolean;
  readonly saveUninitialized: boolean;
  readonly mode: 'server' | 'cookie';
  readonly store: SessionStore | undefined;
  readonly revocationStore: SessionStore | undefined;
  readonly maxSessionsPerUser: number | undefined;
}

/**
 * Options a layer above core accepts beside core's (the Nest module's `guard`, `csrf`,
 * `loginPath`): their keys, so they are not reported as unknown, and how they are resolved.
 * Their problems join core's in the one `SessionConfigError`.
 */
export interface SessionOptionsExtension<T> {
  readonly keys: readonly string[];
  resolve(input: Readonly<Record<string, unknown>>, problems: string[]): T;
}

/** The defaults, in one place so the README and the code cannot drift apart. */
export const SESSION_DEFAULTS = {
  name: 'sid',
  httpOnly: true,
  sameSite: 'lax',
  path: '/',
  secure: 'auto',
  trustProxy: false,
  idleTimeout: 30 * 60_000,
  absoluteTimeout: 12 * 60 * 60_000,
  rolling: false,
  saveUninitialized: false,
} as const;

const KNOWN_OPTIONS = new Set([
  'secret', 'name', 'cookie', 'trustProxy', 'idleTimeout', 'absoluteTimeout', 'rolling',
  'saveUninitialized', 'mode', 'store', 'revocationStore', 'maxSessionsPerUser',
]);
const KNOWN_COOKIE_OPTIONS = new Set(['httpOnly', 'sameSite', 'path', 'secure', 'domain', 'maxAge']);
// RFC 6265 cookie-name is an RFC 7230 token.
const COOKIE_NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const COOKIE_PATH_PATTERN = /^\/[\u0021-\u003a\u003c-\u007e]*$/; // no `;`, no controls, no spaces
const COOKIE_DOMAIN_PATTERN = /^\.?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const MAX_TIMEOUT = 400 * 24 * 60 * 60_000; // browsers cap cookie lifetimes at 400 days

/**
 * Applies defaults and validates. Throws one {@link SessionConfigError} listing every problem,
 * the `extension`'s included.
 */
export function resolveSessionOptions(input: SessionOptions): ResolvedSessionOptions;
export function resolveSessionOptions<T extends object>(
  input: SessionOptions & Readonly<Record<string, unknown>>,
  extension: SessionOptionsExtension<T>,
): ResolvedSessionOptions & T;
export function resolveSessionOptions<T extends object>(
  input: SessionOptions,
  extension?: SessionOptionsExtension<T>,
): ResolvedSessionOptions | (ResolvedSessionOptions & T) {
  const problems: string[] = [];
  if (input === null || typeof input !== 'object') {
    throw new SessionConfigError(['options: must be an object with at least `secret`']);
  }
  const known = extension === undefined ? KNOWN_OPTIONS : new Set([...KNOWN_OPTIONS, ...extension.keys]);
  for (const key of Object.keys(input)) {
    if (!known.has(key)) problems.push(`${key}: unknown option (known: ${[...known].join(', ')})`);
  }

  const secrets = checkSecrets(input.secret, problems);
  const name = input.name ?? SESSION_DEFAULTS.name;
  if (typeof name !== 'string' || !COOKIE_NAME_PATTERN.test(name)) {
    problems.push('name: must be a cookie name made of RFC 6265 token characters, e.g. "sid" or "__Host-sid"');
  }

  const rawCookie: unknown = input.cookie === undefined ? {} : input.cookie;
  const cookieInput: SessionCookieOptions =
    rawCookie !== null && typeof rawCookie === 'object' && !Array.isArray(rawCookie) ? rawCookie : {};
  if (cookieInput !== rawCookie) {
    problems.push('cookie: must be an object of cookie attributes');
  } else {
    for (const key of Object.keys(cookieInput)) {
      if (!KNOWN_COOKIE_OPTIONS.has(key)) {
        problems.push(`cookie.${key}: unknown option (known: ${[...KNOWN_COOKIE_OPTIONS].join(', ')})`);
      }
    }
  }
  const cookie = {
    httpOnly: checkBoolean('cookie.httpOnly', cookieInput?.httpOnly, SESSION_DEFAULTS.httpOnly, problems),
    sameSite: cookieInput?.sameSite ?? SESSION_DEFAULTS.sameSite,
    path: cookieInput?.path ?? SESSION_DEFAULTS.path,
    secure: cookieInput?.secure ?? SESSION_DEFAULTS.secure,
    domain: cookieInput?.domain,
    maxAge: cookieInput?.maxAge,
  };
  if (!['lax', 'strict', 'none'].includes(cookie.sameSite)) {
    problems.push(`cookie.sameSite: must be 'lax', 'strict' or 'none' (got ${describeOptionValue(cookie.sameSite)})`);
  }
  if (cookie.secure !== true && cookie.secure !== false && cookie.secure !== 'auto') {
    problems.push(`cookie.secure: must be true, false or 'auto' (got ${describeOptionValue(cookie.secure)})`);
  }
  if (typeof cookie.path !== 'string' || !COOKIE_PATH_PATTERN.test(cookie.path)) {
    problems.push('cookie.path: must start with "/" and contain no spaces, semicolons or control characters');
  }
  if (cookie.domain !== undefined && (typeof cookie.domain !== 'string' || !COOKIE_DOMAIN_PATTERN.test(cookie.domain))) {
    problems.push('cookie.domain: must be a host name such as "example.com"');
  }
  if (cookie.maxAge !== undefined) checkDuration('cookie.maxAge', cookie.maxAge, problems);
  if (cookie.sameSite === 'none' && cookie.secure !== true) {
    problems.push("cookie.sameSite: 'none' requires cookie.secure: true (browsers reject SameSite=None without Secure)");
  }
  if (typeof name === 'string' && name.startsWith('__Host-')) {
    if (cookie.secure === false) problems.push('name: the __Host- prefix requires a Secure cookie (cookie.secure must not be false)');
    if (cookie.domain !== undefined) problems.push('cookie.domain: must be unset with the __Host- prefix (the cookie is host-only)');
    if (cookie.path !== '/') problems.push('cookie.path: must be "/" with the __Host- prefix');
  }
  if (typeof name === 'string' && name.startsWith('__Secure-') && cookie.secure === false) {
    problems.push('name: the __Secure- prefix requires a Secure cookie (cookie.secure must not be false)');
  }

  const idleTimeout = input.idleTimeout ?? SESSION_DEFAULTS.idleTimeout;
  const absoluteTimeout = input.absoluteTimeout ?? SESSION_DEFAULTS.absoluteTimeout;
  const idleValid = checkDuration('idleTimeout', idleTimeout, problems);
  const absoluteValid = checkDuration('absoluteTimeout', absoluteTimeout, problems);
  if (idleValid && absoluteValid && absoluteTimeout < idleTimeout) {
    problems.push(`absoluteTimeout: must be at least idleTimeout (${idleTimeout} ms)`);
  }

  const mode = input.mode ?? 'server';
  if (mode !== 'server' && mode !== 'cookie') {
    problems.push(`mode: must be 'server' or 'cookie' (got ${describeOptionValue(mode)})`);
  }
  const store = input.store;
  checkStore('store', store, problems);
  const revocationStore = input.revocationStore;
  checkStore('revocationStore', revocationStore, problems);
  if (mode === 'cookie' && store !== undefined) {
    problems.push("store: not used with mode: 'cookie' (the session lives in the cookie); set revocationStore for the revocation list");
  }
  if (mode === 'server' && revocationStore !== undefined) {
    problems.push("revocationStore: only used with mode: 'cookie' (server-side sessions are revoked by deleting them from store)");
  }

  const maxSessionsPerUser = input.maxSessionsPerUser;
  if (maxSessionsPerUser !== undefined) {
    if (typeof maxSessionsPerUser !== 'number' || !Number.isInteger(maxSessionsPerUser) || maxSessionsPerUser < 1 || maxSessionsPerUser > 10_000) {
      problems.push(`maxSessionsPerUser: must be a whole number from 1 to 10000 (got ${describeOptionValue(maxSessionsPerUser)})`);
    }
    const limitedStore = mode === 'cookie' ? revocationStore : store;
    if (limitedStore !== undefined && typeof limitedStore.listByUser !== 'function') {
      problems.push(
        `maxSessionsPerUser: needs a ${mode === 'cookie' ? 'revocationStore' : 'store'} that lists sessions per user ` +
          `(listByUser), which this ${limitedStore.constructor?.name ?? 'store'} does not have`,
      );
    }
  }

  const resolved: ResolvedSessionOptions = {
    secrets,
    name,
    cookie,
    trustProxy: checkBoolean('trustProxy', input.trustProxy, SESSION_DEFAULTS.trustProxy, problems),
    idleTimeout,
    absoluteTimeout,
    rolling: checkBoolean('rolling', input.rolling, SESSION_DEFAULTS.rolling, problems),
    saveUninitialized: checkBoolean(
      'saveUninitialized', input.saveUninitialized, SESSION_DEFAULTS.saveUninitialized, problems,
    ),
    mode,
    store,
    revocationStore,
    maxSessionsPerUser,
  };
  const extended = extension?.resolve(input as unknown as Readonly<Record<string, unknown>>, problems);
  if (problems.length > 0) throw new SessionConfigError(problems);
  return extended === undefined ? resolved : { ...resolved, ...extended };
}

function checkStore(label: string, store: unknown, problems: string[]): void {
  if (store === undefined) return;
  const missing = (['get', 'set', 'update', 'destroy', 'touch'] as const).filter(
    (method) => typeof (store as Record<string, unknown> | null)?.[method] !== 'function',
  );
  if (missing.length > 0) {
    problems.push(`${label}: must implement the SessionStore contract (missing ${missing.join(', ')})`);
  }
}

function checkSecrets(secret: unknown, problems: string[]): string[] {
  if (secret === undefined || secret === null || secret === '') {
    problems.push(`secret: is required (a string of at least ${MIN_SECRET_BYTES} bytes, or an array of them, newest first)`);
    return [];
  }
  const list: unknown[] = Array.isArray(secret) ? secret : [secret];
  if (list.length === 0) {
    problems.push('secret: the array must hold at least one secret');
    return [];
  }
  list.forEach((entry, index) => {
    const label = Array.isArray(secret) ? `secret[${index}]` : 'secret';
    if (typeof entry !== 'string') {
      problems.push(`${label}: must be a string`);
    } else if (Buffer.byteLength(entry, 'utf8') < MIN_SECRET_BYTES) {
      problems.push(`${label}: must be at least ${MIN_SECRET_BYTES} bytes (got ${Buffer.byteLength(entry, 'utf8')})`);
    }
  });
  if (new Set(list).size !== list.length) problems.push('secret: contains the same secret twice');
  return list.filter((entry): entry is string => typeof entry === 'string');
}

function checkBoolean(label: string, value: unknown, fallback: boolean, problems: string[]): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    problems.push(`${label}: must be true or false (got ${describeOptionValue(value)})`);
    return fallback;
  }
  return value;
}

function checkDuration(label: string, value: unknown, problems: string[]): boolean {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    problems.push(`${label}: must be a positive whole number of milliseconds (got ${describeOptionValue(value)})`);
    return false;
  }
  if (value < 1000) {
    problems.push(`${label}: is in milliseconds; ${value} ms is under a second (did you mean seconds?)`);
    return false;
  }
  if (value > MAX_TIMEOUT) {
    problems.push(`${label}: must be at most 400 days (${MAX_TIMEOUT} ms), the longest lifetime browsers keep a cookie`);
    return false;
  }
  return true;
}

/** A value as an option problem quotes it. */
export function describeOptionValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

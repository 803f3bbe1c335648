import type { EndedSessionBroadcast } from '../core/ended-session-broadcast';
import { safeReturnUrl } from '../core/return-url';
import {
  describeOptionValue,
  resolveSessionOptions,
  type ResolvedSessionOptions,
  type SessionOptions,
  type SessionOptionsExtension,
} from '../core/session-options';

/** What `SessionModule` accepts beside the session options: how Nest routes are guarded. */
export interface SessionModuleSettings {
  /**
   * `'global'` protects every route with `SessionGuard` (opt out with `@Public()`); `'none'` leaves
   * it to `@UseGuards(SessionGuard)`.
   * @default 'none'
   */
  guard?: 'global' | 'none';
  /**
   * Refuse unsafe requests (POST, PUT, PATCH, DELETE) that a browser says come from another site
   * (`Sec-Fetch-Site`, `Origin`) with 403, on every route (opt a route out with
   * `@AllowCrossSite()`, e.g. for a webhook). `true`, or `{ allowedOrigins }` listing other
   * origins (`https://admin.example.com`) allowed to send them. `SameSite=Lax` already keeps the
   * cookie off most cross-site POSTs; this closes what it leaves open (sibling subdomains,
   * `SameSite=None`, old browsers).
   * @default false
   */
  csrf?: boolean | { readonly allowedOrigins?: readonly string[] };
  /**
   * Where `SessionGuard` sends anonymous page requests (with `?returnTo=` the page asked for).
   * Must be a same-origin path.
   * @default '/login'
   */
  loginPath?: string;
  /**
   * Sessions on WebSocket gateways (with `SessionIoAdapter` or `SessionWsAdapter`): which pages
   * may open a socket, and how a session's end reaches the sockets other instances hold.
   */
  sockets?: SessionSocketSettings;
}

/** How gateways' sockets follow their sessions (the `sockets` module setting). */
export interface SessionSocketSettings {
  /**
   * Origins other than the application's own (`https://admin.example.com`) whose pages may open
   * a socket with the user's cookie. A handshake from any other page is refused (cross-site
   * WebSocket hijacking). Defaults to `csrf.allowedOrigins`.
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * Tells the other instances when a session ends here, and this one when it ends there, so
   * their sockets close within a second (`new RedisEndedSessionBroadcast({ client })`). Without
   * it, a session ended on another instance is noticed at the next recheck.
   */
  readonly broadcast?: EndedSessionBroadcast;
  /**
   * How often (ms) each socket's session is read again from the store (or its cookie checked
   * against the revocation list): the bound on how long a socket outlives a session ended
   * where no event or broadcast reached this instance. Sockets are also rechecked at their
   * session's idle and absolute deadlines. From 1000 to 86400000.
   * @default 60000
   */
  readonly recheckInterval?: number;
}

/** The `sockets` setting resolved. */
export interface ResolvedSessionSocketSettings {
  readonly allowedOrigins: readonly string[];
  readonly broadcast: EndedSessionBroadcast | undefined;
  readonly recheckInterval: number;
}

/** The module settings with their defaults applied and validated. */
export interface ResolvedSessionModuleSettings {
  readonly guard: 'global' | 'none';
  readonly loginPath: string;
  /** Cross-site request refusal: off, or on with the extra allowed origins. */
  readonly csrf: false | { readonly allowedOrigins: readonly string[] };
  readonly sockets: ResolvedSessionSocketSettings;
}

/** What `SessionModule.forRoot()` takes: the session options and the module settings, in one object. */
export type SessionModuleInput = SessionOptions & SessionModuleSettings;

/** Everything `SessionModule` resolved at boot (the `SESSION_OPTIONS` provider). */
export type ResolvedSessionModuleOptions = ResolvedSessionOptions & ResolvedSessionModuleSettings;

/** The module settings' defaults. */
export const SESSION_MODULE_DEFAULTS = { guard: 'none', loginPath: '/login', csrf: false, socketRecheckInterval: 60_000 } as const;

const MODULE_SETTINGS: SessionOptionsExtension<ResolvedSessionModuleSettings> = {
  keys: ['guard', 'loginPath', 'csrf', 'sockets'],
  resolve(input, problems) {
    const guard = input.guard ?? SESSION_MODULE_DEFAULTS.guard;
    if (guard !== 'global' && guard !== 'none') {
      problems.push(`guard: must be 'global' or 'none' (got ${describeOptionValue(guard)})`);
    }
    const given = input.loginPath ?? SESSION_MODULE_DEFAULTS.loginPath;
    const loginPath = typeof given === 'string' && safeReturnUrl(given, '') !== '' ? given : SESSION_MODULE_DEFAULTS.loginPath;
    if (loginPath !== given) problems.push('loginPath: must be a same-origin path such as "/login"');
    const csrf = resolveCsrf(input.csrf, problems);
    const sockets = resolveSockets(input.sockets, csrf, problems);
    return { guard: guard === 'global' ? 'global' : 'none', loginPath, csrf, sockets };
  },
};

/**
 * Resolves what `forRoot` / `forRootAsync` was given: core validates the session options, this
 * file the module's own settings, and every problem of both comes in one `SessionConfigError`.
 */
export function resolveSessionModuleOptions(input: SessionModuleInput): ResolvedSessionModuleOptions {
  return resolveSessionOptions(input as SessionModuleInput & Readonly<Record<string, unknown>>, MODULE_SETTINGS);
}

function resolveCsrf(value: unknown, problems: string[]): ResolvedSessionModuleSettings['csrf'] {
  if (value === undefined || value === false) return false;
  if (value === true) return { allowedOrigins: [] };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push('csrf: must be true, false or { allowedOrigins: string[] }');
    return false;
  }
  const origins = resolveOrigins('csrf.allowedOrigins', (value as { allowedOrigins?: unknown }).allowedOrigins, problems);
  return origins === undefined ? false : { allowedOrigins: origins };
}

function resolveSockets(value: unknown, csrf: ResolvedSessionModuleSettings['csrf'], problems: string[]): ResolvedSessionSocketSettings {
  const defaults = {
    allowedOrigins: csrf === false ? [] : csrf.allowedOrigins,
    broadcast: undefined,
    recheckInterval: SESSION_MODULE_DEFAULTS.socketRecheckInterval,
  };
  if (value === undefined) return defaults;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push('sockets: must be an object { allowedOrigins?, broadcast?, recheckInterval? }');
    return defaults;
  }
  const given = value as { allowedOrigins?: unknown; broadcast?: unknown; recheckInterval?: unknown };
  const allowedOrigins =
    given.allowedOrigins === undefined ? defaults.allowedOrigins : (resolveOrigins('sockets.allowedOrigins', given.allowedOrigins, problems) ?? []);
  const broadcast = given.broadcast;
  if (broadcast !== undefined && !isBroadcast(broadcast)) {
    problems.push('sockets.broadcast: must have publish(key, reason) and subscribe(listener) methods (e.g. new RedisEndedSessionBroadcast({ client }))');
  }
  const recheckInterval = given.recheckInterval ?? defaults.recheckInterval;
  // At most a day: timers past 2^31 ms fire at once.
  const intervalValid = typeof recheckInterval === 'number' && Number.isSafeInteger(recheckInterval) && recheckInterval >= 1000 && recheckInterval <= 86_400_000;
  if (!intervalValid) {
    problems.push(`sockets.recheckInterval: must be a whole number of milliseconds from 1000 to 86400000 (got ${describeOptionValue(recheckInterval)})`);
  }
  return {
    allowedOrigins,
    broadcast: isBroadcast(broadcast) ? broadcast : undefined,
    recheckInterval: intervalValid ? recheckInterval : defaults.recheckInterval,
  };
}

function isBroadcast(value: unknown): value is EndedSessionBroadcast {
  const candidate = value as Partial<EndedSessionBroadcast> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.publish === 'function' && typeof candidate.subscribe === 'function';
}

/** A list of exact origins; undefined (with a problem) when it is not a list. */
function resolveOrigins(name: string, value: unknown, problems: string[]): string[] | undefined {
  const origins: unknown = value ?? [];
  if (!Array.isArray(origins)) {
    problems.push(`${name}: must be an array of origins such as "https://app.example.com"`);
    return undefined;
  }
  for (const origin of origins) {
    if (!isExactOrigin(origin)) {
      problems.push(`${name}: ${describeOptionValue(origin)} is not an origin (scheme://host[:port], no path or trailing slash)`);
    }
  }
  return origins.filter((origin): origin is string => typeof origin === 'string');
}

function isExactOrigin(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

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
}

/** The module settings with their defaults applied and validated. */
export interface ResolvedSessionModuleSettings {
  readonly guard: 'global' | 'none';
  readonly loginPath: string;
  /** Cross-site request refusal: off, or on with the extra allowed origins. */
  readonly csrf: false | { readonly allowedOrigins: readonly string[] };
}

/** What `SessionModule.forRoot()` takes: the session options and the module settings, in one object. */
export type SessionModuleInput = SessionOptions & SessionModuleSettings;

/** Everything `SessionModule` resolved at boot (the `SESSION_OPTIONS` provider). */
export type ResolvedSessionModuleOptions = ResolvedSessionOptions & ResolvedSessionModuleSettings;

/** The module settings' defaults. */
export const SESSION_MODULE_DEFAULTS = { guard: 'none', loginPath: '/login', csrf: false } as const;

const MODULE_SETTINGS: SessionOptionsExtension<ResolvedSessionModuleSettings> = {
  keys: ['guard', 'loginPath', 'csrf'],
  resolve(input, problems) {
    const guard = input.guard ?? SESSION_MODULE_DEFAULTS.guard;
    if (guard !== 'global' && guard !== 'none') {
      problems.push(`guard: must be 'global' or 'none' (got ${describeOptionValue(guard)})`);
    }
    const given = input.loginPath ?? SESSION_MODULE_DEFAULTS.loginPath;
    const loginPath = typeof given === 'string' && safeReturnUrl(given, '') !== '' ? given : SESSION_MODULE_DEFAULTS.loginPath;
    if (loginPath !== given) problems.push('loginPath: must be a same-origin path such as "/login"');
    const csrf = resolveCsrf(input.csrf, problems);
    return { guard: guard === 'global' ? 'global' : 'none', loginPath, csrf };
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
  const origins: unknown = (value as { allowedOrigins?: unknown }).allowedOrigins ?? [];
  if (!Array.isArray(origins)) {
    problems.push('csrf.allowedOrigins: must be an array of origins such as "https://app.example.com"');
    return false;
  }
  for (const origin of origins) {
    if (!isExactOrigin(origin)) {
      problems.push(`csrf.allowedOrigins: ${describeOptionValue(origin)} is not an origin (scheme://host[:port], no path or trailing slash)`);
    }
  }
  return { allowedOrigins: origins.filter((origin): origin is string => typeof origin === 'string') };
}

function isExactOrigin(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

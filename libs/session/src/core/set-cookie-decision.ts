import type { ExpiryPolicy } from './expiry';
import type { ResolvedSessionOptions } from './session-options';
import type { SessionInternals } from './session';
import { serializeExpiredCookie, serializeSessionCookie, type SessionCookieAttributes } from './set-cookie';

/** What the decision reads of a session at the end of its request. */
export interface CookieDecisionInput {
  readonly state: SessionInternals;
  /** The session goes on after this response (not destroyed, and worth storing if new). */
  readonly alive: boolean;
  /** The cookie value of a live session (asked only when a cookie is sent). */
  readonly value: () => string;
  readonly clock: () => number;
}

/**
 * The `Set-Cookie` a response needs, or undefined when the browser's cookie is right as it is:
 * - a session that ended (or was never worth storing) expires the cookie the request came with;
 * - a live one sends its cookie when it is stale (new id, older signing key, changed lifetime)
 *   or on every response with `rolling`;
 * - a persistent cookie never outlives the absolute timeout: the browser forgets it when the
 *   server would refuse it anyway.
 */
export function decideSetCookie(options: ResolvedSessionOptions, policy: ExpiryPolicy, input: CookieDecisionInput): string | undefined {
  const { state } = input;
  const attributes = cookieAttributes(options, state);
  if (!input.alive) return state.requestHadCookie ? serializeExpiredCookie(attributes) : undefined;
  if (!state.cookieStale && !options.rolling) return undefined;
  const now = input.clock();
  const maxAge = state.cookieMaxAge ?? options.cookie.maxAge;
  const remaining = state.createdAt + policy.absoluteTimeout - now;
  return serializeSessionCookie(attributes, input.value(), maxAge === undefined ? undefined : Math.min(maxAge, remaining), now);
}

function cookieAttributes(options: ResolvedSessionOptions, state: SessionInternals): SessionCookieAttributes {
  const cookie = options.cookie;
  return {
    name: options.name,
    httpOnly: cookie.httpOnly,
    sameSite: cookie.sameSite,
    path: cookie.path,
    domain: cookie.domain,
    secure: cookie.secure === 'auto' ? state.secureRequest : cookie.secure,
  };
}

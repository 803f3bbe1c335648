import { stringifySetCookie } from 'cookie';
import type { SameSite } from './session-options';

/** Everything needed to write the session cookie, resolved for one response. */
export interface SessionCookieAttributes {
  readonly name: string;
  readonly httpOnly: boolean;
  readonly sameSite: SameSite;
  readonly path: string;
  readonly domain: string | undefined;
  readonly secure: boolean;
}

/**
 * The `Set-Cookie` value that stores `value`. With `maxAge` (ms) the cookie is persistent and
 * carries both Max-Age and Expires (RFC 6265 §5.3: Max-Age wins; Expires serves old clients);
 * without it the cookie lasts for the browser session.
 */
export function serializeSessionCookie(
  attributes: SessionCookieAttributes,
  value: string,
  maxAge: number | undefined,
  now: number,
): string {
  return stringifySetCookie({
    name: attributes.name,
    value,
    httpOnly: attributes.httpOnly,
    sameSite: attributes.sameSite,
    path: attributes.path,
    domain: attributes.domain,
    secure: attributes.secure,
    ...(maxAge === undefined
      ? {}
      : { maxAge: Math.max(0, Math.floor(maxAge / 1000)), expires: new Date(now + maxAge) }),
  });
}

/**
 * The `Set-Cookie` value that deletes the session cookie. It repeats name, path and domain (and
 * the other attributes) exactly, because a browser only replaces a cookie whose name, domain and
 * path all match; a mismatch would leave the old cookie in place.
 */
export function serializeExpiredCookie(attributes: SessionCookieAttributes): string {
  return stringifySetCookie({
    name: attributes.name,
    value: '',
    httpOnly: attributes.httpOnly,
    sameSite: attributes.sameSite,
    path: attributes.path,
    domain: attributes.domain,
    secure: attributes.secure,
    maxAge: 0,
    expires: new Date(0),
  });
}

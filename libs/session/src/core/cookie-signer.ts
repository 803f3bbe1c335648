import { createHmac, timingSafeEqual } from 'node:crypto';
import type { KeyRing } from './key-ring';

/** The outcome of verifying a session cookie value. */
export interface VerifiedSessionCookie {
  /** The session id the cookie carries. */
  readonly id: string;
  /** False when an older key of the ring verified it: the cookie should be re-issued. */
  readonly signedWithCurrentKey: boolean;
}

// `<43 chars of id>.<43 chars of signature>`, both unpadded base64url. Anything else (quotes,
// percent-encoding, extra dots, padding) is rejected before any crypto runs.
const SIGNED_VALUE_PATTERN = /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/;

/**
 * Signs a session id for the cookie: `id.signature`, HMAC-SHA256 with the ring's current key.
 */
export function signSessionId(id: string, keyRing: KeyRing): string {
  return `${id}.${mac(id, keyRing.currentSigningKey)}`;
}

/**
 * Verifies a raw cookie value against every key of the ring, in constant time per key.
 * Returns undefined for anything that is not exactly a value this library signed.
 */
export function verifySessionCookie(
  value: string,
  keyRing: KeyRing,
): VerifiedSessionCookie | undefined {
  if (value.length !== 87 || !SIGNED_VALUE_PATTERN.test(value)) return undefined;
  const id = value.slice(0, 43);
  // Compare the base64url text, not decoded bytes: two spellings of one byte string (different
  // unused low bits in the last character) must not both verify.
  const given = Buffer.from(value.slice(44), 'latin1');
  const keys = keyRing.signingKeys;
  for (let index = 0; index < keys.length; index++) {
    const expected = Buffer.from(mac(id, keys[index]), 'latin1');
    if (timingSafeEqual(expected, given)) return { id, signedWithCurrentKey: index === 0 };
  }
  return undefined;
}

function mac(id: string, key: Buffer): string {
  return createHmac('sha256', key).update(id).digest('base64url');
}

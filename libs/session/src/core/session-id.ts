import { createHash, randomBytes } from 'node:crypto';

/** Bytes of CSPRNG output in a session id: 256 bits, far beyond guessing or birthday collisions. */
export const SESSION_ID_BYTES = 32;

/** A source of cryptographically secure random bytes; injectable so tests can be deterministic. */
export type RandomSource = (size: number) => Buffer;

// 32 bytes in unpadded base64url are exactly 43 characters of this alphabet.
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Creates a new session id: 32 bytes from the CSPRNG, base64url without padding.
 */
export function generateSessionId(random: RandomSource = randomBytes): string {
  return random(SESSION_ID_BYTES).toString('base64url');
}

/** True when the string has the exact shape of an id made by {@link generateSessionId}. */
export function isWellFormedSessionId(value: string): boolean {
  return SESSION_ID_PATTERN.test(value);
}

/**
 * The key a session is stored under: SHA-256 of the id, base64url. Stores never see the raw id,
 * so a leaked store (backup, read replica, SQL injection) does not hand out live session cookies.
 */
export function hashSessionId(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

import { hkdfSync } from 'node:crypto';

/** Minimum length of every secret, in UTF-8 bytes: 256 bits for HMAC-SHA256. */
export const MIN_SECRET_BYTES = 32;

// HKDF labels separate the uses of one secret, so a key for signing is never also a key for
// encryption (client-side sessions derive their own with another label).
const SIGNING_INFO = 'nest-session-auth/v1/cookie-signing';

/**
 * The secrets of an application, newest first. The first key signs; every key verifies, so a
 * secret can be rotated by prepending a new one without logging anybody out.
 */
export class KeyRing {
  /** HMAC keys derived from each secret, in the order the secrets were given. */
  readonly signingKeys: readonly Buffer[];

  private constructor(signingKeys: readonly Buffer[]) {
    this.signingKeys = signingKeys;
  }

  /**
   * Derives a key ring from secrets (newest first). Validation of lengths happens when options
   * are resolved; this only refuses an empty list.
   */
  static fromSecrets(secrets: readonly string[]): KeyRing {
    if (secrets.length === 0) throw new RangeError('A key ring needs at least one secret');
    return new KeyRing(secrets.map((secret) => deriveKey(secret, SIGNING_INFO)));
  }

  /** The key that signs new cookies. */
  get currentSigningKey(): Buffer {
    return this.signingKeys[0];
  }
}

function deriveKey(secret: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), info, 32));
}

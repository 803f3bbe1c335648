import { createHash, hkdfSync } from 'node:crypto';

/** Minimum length of every secret, in UTF-8 bytes: 256 bits for HMAC-SHA256. */
export const MIN_SECRET_BYTES = 32;

// HKDF labels separate the uses of one secret, so a key for signing is never also a key for
// encryption (client-side sessions derive their own with another label).
const SIGNING_INFO = 'nest-session-auth/v1/cookie-signing';
const SEALING_INFO = 'nest-session-auth/v1/cookie-sealing';

/** An AES-256-GCM key of the ring, with an identifier that does not depend on its position. */
export interface SealingKey {
  /** 32 bytes for AES-256-GCM, derived from one secret with HKDF-SHA256. */
  readonly key: Buffer;
  /**
   * 4 bytes naming the key in a sealed value (the first bytes of SHA-256 of the key): a value
   * names the key that opens it, whatever the key's position in the ring after a rotation.
   */
  readonly id: Buffer;
}

/**
 * The secrets of an application, newest first. The first key signs; every key verifies, so a
 * secret can be rotated by prepending a new one without logging anybody out.
 */
export class KeyRing {
  /** HMAC keys derived from each secret, in the order the secrets were given. */
  readonly signingKeys: readonly Buffer[];
  /** AES-256-GCM keys (client-side sessions) derived from each secret, in the same order. */
  readonly sealingKeys: readonly SealingKey[];

  private constructor(signingKeys: readonly Buffer[], sealingKeys: readonly SealingKey[]) {
    this.signingKeys = signingKeys;
    this.sealingKeys = sealingKeys;
  }

  /**
   * Derives a key ring from secrets (newest first). Validation of lengths happens when options
   * are resolved; this only refuses an empty list.
   */
  static fromSecrets(secrets: readonly string[]): KeyRing {
    if (secrets.length === 0) throw new RangeError('A key ring needs at least one secret');
    return new KeyRing(
      secrets.map((secret) => deriveKey(secret, SIGNING_INFO)),
      secrets.map((secret) => {
        const key = deriveKey(secret, SEALING_INFO);
        return { key, id: createHash('sha256').update(key).digest().subarray(0, 4) };
      }),
    );
  }

  /** The key that signs new cookies. */
  get currentSigningKey(): Buffer {
    return this.signingKeys[0];
  }

  /** The key that seals new client-side session cookies. */
  get currentSealingKey(): SealingKey {
    return this.sealingKeys[0];
  }
}

function deriveKey(secret: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), info, 32));
}

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { KeyRing, SealingKey } from './key-ring';
import type { RandomSource } from './session-id';

/** The outcome of opening a sealed cookie value. */
export interface OpenedCookie {
  /** The text that was sealed, exactly as it was given to {@link sealCookieValue}. */
  readonly plaintext: string;
  /** False when an older key of the ring opened it: the cookie should be re-sealed and re-issued. */
  readonly sealedWithCurrentKey: boolean;
}

/**
 * The size a browser is guaranteed to keep for one cookie, in bytes (RFC 6265 section 6.1; Chrome
 * and Firefox refuse a cookie whose name plus value exceeds it). A sealed session larger than this
 * is silently dropped by the browser, which logs the user out, so callers check before sending.
 */
export const MAX_COOKIE_BYTES = 4096;

// Layout of the decoded value: version | key id | nonce | ciphertext | tag. The version leads so a
// future format can be told apart before anything else is parsed; the key id follows so the one
// key that can open the value is chosen directly.
const VERSION = 0x01;
const VERSION_BYTES = 1;
const KEY_ID_BYTES = 4;
// 96 bits is GCM's native nonce size (NIST SP 800-38D). Random nonces are safe for about 2^32
// seals per key; rotating the secret resets the count.
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = VERSION_BYTES + KEY_ID_BYTES + NONCE_BYTES;

/** Bytes a sealed value adds to its plaintext before base64url: version 1, key id 4, nonce 12, tag 16. */
export const SEALED_OVERHEAD_BYTES = HEADER_BYTES + TAG_BYTES;

// Unpadded base64url and nothing else: quotes, percent-encoding, padding, whitespace and the
// standard base64 alphabet are refused before decoding, since Buffer.from would skip them silently.
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]+$/;

// `fatal` so a plaintext that is not valid UTF-8 is refused rather than patched with U+FFFD;
// `ignoreBOM` so a plaintext starting with U+FEFF comes back with it.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Encrypts and authenticates a cookie value with AES-256-GCM under the ring's current key, so the
 * whole session can live in the cookie without the client reading or changing it.
 *
 * The result is unpadded base64url of `0x01 | key id (4) | nonce (12) | ciphertext | tag (16)`.
 * The version byte, the key id and `context` are authenticated too (additional data), so a value
 * sealed for one cookie name does not open under another.
 *
 * @param plaintext - The text to seal; it is encoded as UTF-8.
 * @param context - What the value is for, usually the cookie name. Compared as UTF-8 bytes.
 * @param random - Source of the 12-byte nonce; a fresh one per seal, never reused under one key.
 * @throws TypeError when `plaintext` or `context` has lone surrogates (no exact UTF-8 form), or
 *   RangeError when `random` does not return 12 bytes: either would make a value that cannot be
 *   opened to what was sealed.
 * @example
 * const json = JSON.stringify(session);
 * if (Buffer.byteLength(json) > maxSealedPlaintextBytes('sid')) throw new Error('session too large for a cookie');
 * const value = sealCookieValue(json, keyRing, 'sid');
 * const opened = openCookieValue(value, keyRing, 'sid'); // { plaintext: json, sealedWithCurrentKey: true }
 */
export function sealCookieValue(
  plaintext: string,
  keyRing: KeyRing,
  context: string,
  random: RandomSource = randomBytes,
): string {
  if (!plaintext.isWellFormed()) throw new TypeError('plaintext: must be well-formed UTF-16 (no lone surrogates)');
  if (!context.isWellFormed()) throw new TypeError('context: must be well-formed UTF-16 (no lone surrogates)');
  const { key, id } = keyRing.currentSealingKey;
  const nonce = random(NONCE_BYTES);
  // GCM accepts a nonce of any length, so a broken source would still encrypt, into a value whose
  // layout no longer parses; refuse it here instead of issuing cookies that never open.
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`random: must return ${NONCE_BYTES} bytes, got ${nonce.length}`);
  const header = Buffer.concat([Buffer.from([VERSION]), id, nonce]);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(header, context));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([header, ciphertext, cipher.getAuthTag()]).toString('base64url');
}

/**
 * Opens a value made by {@link sealCookieValue} with the key its id names. Returns undefined, and
 * never throws, for anything that is not exactly such a value sealed with a key of this ring for
 * this `context`: cookie values are attacker-controlled, and a bad one means a fresh session.
 */
export function openCookieValue(value: string, keyRing: KeyRing, context: string): OpenedCookie | undefined {
  if (typeof value !== 'string' || value.length < sealedCookieLength(0) || !BASE64URL_PATTERN.test(value)) {
    return undefined;
  }
  const bytes = Buffer.from(value, 'base64url');
  // One byte string has several spellings (the last character's unused low bits); only the one
  // this code writes is accepted, so a value cannot be varied without invalidating it.
  if (bytes.toString('base64url') !== value) return undefined;
  if (bytes.length < SEALED_OVERHEAD_BYTES || bytes[0] !== VERSION) return undefined;
  if (!context.isWellFormed()) return undefined;

  const keyId = bytes.subarray(VERSION_BYTES, VERSION_BYTES + KEY_ID_BYTES);
  // Ids are public (they are in every cookie), so an ordinary comparison leaks nothing.
  const index = keyRing.sealingKeys.findIndex((candidate) => candidate.id.equals(keyId));
  if (index === -1) return undefined;

  const plaintext = decrypt(keyRing.sealingKeys[index], bytes, context);
  return plaintext === undefined ? undefined : { plaintext, sealedWithCurrentKey: index === 0 };
}

/**
 * The exact length, in characters (= bytes, the alphabet is ASCII), of the value
 * {@link sealCookieValue} returns for a plaintext of `plaintextBytes` UTF-8 bytes:
 * `ceil(4 * (plaintextBytes + 33) / 3)`, the 33 bytes of overhead plus base64's growth by 4/3.
 *
 * @throws RangeError when `plaintextBytes` is not a non-negative safe integer.
 */
export function sealedCookieLength(plaintextBytes: number): number {
  if (!Number.isSafeInteger(plaintextBytes) || plaintextBytes < 0) {
    throw new RangeError(`plaintextBytes: must be a non-negative integer, got ${plaintextBytes}`);
  }
  return Math.ceil(((plaintextBytes + SEALED_OVERHEAD_BYTES) * 4) / 3);
}

/**
 * The largest plaintext, in UTF-8 bytes, whose sealed cookie `name=value` fits in
 * {@link MAX_COOKIE_BYTES}. The `=` is counted, which is one byte stricter than browsers; cookie
 * attributes (Path, Expires, ...) are not, as browsers limit them separately. Negative when the
 * name alone leaves no room for even an empty plaintext.
 */
export function maxSealedPlaintextBytes(cookieName: string): number {
  const valueChars = MAX_COOKIE_BYTES - Buffer.byteLength(cookieName, 'utf8') - 1;
  // Inverse of sealedCookieLength: n base64url characters carry floor(3n / 4) bytes.
  return Math.floor((Math.max(valueChars, 0) * 3) / 4) - SEALED_OVERHEAD_BYTES;
}

// The header is bound along with the context: swapping in another key id or version cannot
// produce a value that authenticates, even under a key that would accept the ciphertext.
function additionalData(header: Buffer, context: string): Buffer {
  return Buffer.concat([header.subarray(0, VERSION_BYTES + KEY_ID_BYTES), Buffer.from(context, 'utf8')]);
}

function decrypt(sealingKey: SealingKey, bytes: Buffer, context: string): string | undefined {
  const header = bytes.subarray(0, HEADER_BYTES);
  const nonce = bytes.subarray(VERSION_BYTES + KEY_ID_BYTES, HEADER_BYTES);
  const ciphertext = bytes.subarray(HEADER_BYTES, bytes.length - TAG_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  try {
    // The slicing above already gives a 16-byte tag; authTagLength states it to OpenSSL as well,
    // since GCM on its own accepts tags as short as 4 bytes.
    const decipher = createDecipheriv('aes-256-gcm', sealingKey.key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(header, context));
    decipher.setAuthTag(tag);
    const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    return UTF8.decode(plaintext);
  } catch {
    // final() throws when the tag does not match (tampered, wrong key, wrong context); decode()
    // throws on invalid UTF-8. Both are untrusted input, not errors.
    return undefined;
  }
}

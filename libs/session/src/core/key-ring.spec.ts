import { createHmac } from 'node:crypto';
import { KeyRing, MIN_SECRET_BYTES } from './key-ring';

const SECRET_A = 'test-only secret A: 0123456789abcdef0123456789abcdef';
const SECRET_B = 'test-only secret B: fedcba9876543210fedcba9876543210';
const SECRET_C = 'test-only secret C: 00112233445566778899aabbccddeeff';

// RFC 5869 HKDF-SHA256 written out by hand (empty salt = 32 zero bytes, one output block), so the
// test checks the derivation independently of node's hkdfSync.
function rfc5869Sha256(secret: string, info: string): Buffer {
  const prk = createHmac('sha256', Buffer.alloc(32)).update(Buffer.from(secret, 'utf8')).digest();
  return createHmac('sha256', prk).update(Buffer.concat([Buffer.from(info, 'utf8'), Buffer.from([1])])).digest();
}

describe('KeyRing.fromSecrets', () => {
  it('refuses an empty list', () => {
    expect(() => KeyRing.fromSecrets([])).toThrow(RangeError);
  });

  it.each([
    ['one secret', [SECRET_A]],
    ['two secrets', [SECRET_A, SECRET_B]],
    ['three secrets', [SECRET_C, SECRET_B, SECRET_A]],
  ])('derives one 32-byte key per secret, in order (%s)', (_label, secrets) => {
    const ring = KeyRing.fromSecrets(secrets);
    expect(ring.signingKeys).toHaveLength(secrets.length);
    ring.signingKeys.forEach((key, index) => {
      expect(key).toHaveLength(32);
      expect(key.equals(KeyRing.fromSecrets([secrets[index]]).currentSigningKey)).toBe(true);
    });
    expect(ring.currentSigningKey.equals(ring.signingKeys[0])).toBe(true);
  });

  it('derives keys with HKDF-SHA256 under the cookie-signing label', () => {
    const key = KeyRing.fromSecrets([SECRET_A]).currentSigningKey;
    expect(key.equals(rfc5869Sha256(SECRET_A, 'nest-session-auth/v1/cookie-signing'))).toBe(true);
  });

  it.each([
    ['another label', SECRET_A, 'nest-session-auth/v1/cookie-sealing'],
    ['another secret', SECRET_B, 'nest-session-auth/v1/cookie-signing'],
  ])('does not match HKDF with %s', (_label, secret, info) => {
    const key = KeyRing.fromSecrets([SECRET_A]).currentSigningKey;
    expect(key.equals(rfc5869Sha256(secret, info))).toBe(false);
  });

  it('never uses the raw secret as a key', () => {
    const secret = 'x'.repeat(MIN_SECRET_BYTES);
    const key = KeyRing.fromSecrets([secret]).currentSigningKey;
    expect(key.equals(Buffer.from(secret, 'utf8'))).toBe(false);
  });

  it.each([
    ['differ by one character', SECRET_A, SECRET_A.slice(0, -1) + 'e'],
    ['differ only in case', SECRET_A, SECRET_A.toUpperCase()],
    ['differ by a trailing space', SECRET_A, `${SECRET_A} `],
  ])('gives different keys for secrets that %s', (_label, first, second) => {
    const ring = KeyRing.fromSecrets([first, second]);
    expect(ring.signingKeys[0].equals(ring.signingKeys[1])).toBe(false);
  });

  it('is deterministic: the same secrets give the same keys on every derivation', () => {
    const first = KeyRing.fromSecrets([SECRET_A, SECRET_B]);
    const second = KeyRing.fromSecrets([SECRET_A, SECRET_B]);
    expect(first.signingKeys.map((key) => key.toString('hex'))).toEqual(
      second.signingKeys.map((key) => key.toString('hex')),
    );
  });

  it('encodes secrets as UTF-8', () => {
    const secret = 'é'.repeat(MIN_SECRET_BYTES / 2); // 16 characters, 32 bytes
    expect(KeyRing.fromSecrets([secret]).currentSigningKey.equals(rfc5869Sha256(secret, 'nest-session-auth/v1/cookie-signing'))).toBe(true);
  });
});

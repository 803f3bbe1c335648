import { createHmac } from 'node:crypto';
import { signSessionId, verifySessionCookie } from './cookie-signer';
import { KeyRing } from './key-ring';
import { generateSessionId } from './session-id';

const SECRET_A = 'test-only secret A: 0123456789abcdef0123456789abcdef';
const SECRET_B = 'test-only secret B: fedcba9876543210fedcba9876543210';
const SECRET_C = 'test-only secret C: 00112233445566778899aabbccddeeff';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const ringA = KeyRing.fromSecrets([SECRET_A]);
const ringB = KeyRing.fromSecrets([SECRET_B]);
// A fixed id, so failures are reproducible.
const ID = generateSessionId((size) => Buffer.alloc(size, 7));
const SIGNED = signSessionId(ID, ringA);

describe('signSessionId', () => {
  it('produces `id.signature`, 87 characters of unpadded base64url around one dot', () => {
    expect(SIGNED).toHaveLength(87);
    expect(SIGNED).toMatch(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
    expect(SIGNED.slice(0, 43)).toBe(ID);
  });

  it('signs with HMAC-SHA256 under the current key of the ring', () => {
    const expected = createHmac('sha256', ringA.currentSigningKey).update(ID).digest('base64url');
    expect(SIGNED.slice(44)).toBe(expected);
  });

  it.each([
    ['another key', ringB],
    ['a ring whose current key is another', KeyRing.fromSecrets([SECRET_B, SECRET_A])],
  ])('gives a different signature with %s', (_label, ring) => {
    expect(signSessionId(ID, ring)).not.toBe(SIGNED);
  });
});

describe('verifySessionCookie', () => {
  it('round-trips: a value it signed verifies to the same id with the current key', () => {
    expect(verifySessionCookie(SIGNED, ringA)).toEqual({ id: ID, signedWithCurrentKey: true });
  });

  it.each(Array.from({ length: 5 }, (_, index) => generateSessionId((size) => Buffer.alloc(size, index * 51))))(
    'round-trips id %s',
    (id) => {
      expect(verifySessionCookie(signSessionId(id, ringA), ringA)).toEqual({ id, signedWithCurrentKey: true });
    },
  );

  describe('key ring', () => {
    it.each<[string, readonly string[], { id: string; signedWithCurrentKey: boolean } | undefined]>([
      ['the signing key alone', [SECRET_A], { id: ID, signedWithCurrentKey: true }],
      ['the signing key first, another after', [SECRET_A, SECRET_B], { id: ID, signedWithCurrentKey: true }],
      ['the signing key as an older key', [SECRET_B, SECRET_A], { id: ID, signedWithCurrentKey: false }],
      ['the signing key third', [SECRET_C, SECRET_B, SECRET_A], { id: ID, signedWithCurrentKey: false }],
      ['a wrong key', [SECRET_B], undefined],
      ['several wrong keys', [SECRET_B, SECRET_C], undefined],
    ])('value signed with key A, verified against %s', (_label, secrets, expected) => {
      expect(verifySessionCookie(SIGNED, KeyRing.fromSecrets(secrets))).toEqual(expected);
    });

    it('ring order matters: the same keys in another order sign differently', () => {
      const forward = KeyRing.fromSecrets([SECRET_A, SECRET_B]);
      const backward = KeyRing.fromSecrets([SECRET_B, SECRET_A]);
      const value = signSessionId(ID, forward);
      expect(verifySessionCookie(value, forward)?.signedWithCurrentKey).toBe(true);
      expect(verifySessionCookie(value, backward)?.signedWithCurrentKey).toBe(false);
      expect(signSessionId(ID, backward)).not.toBe(value);
    });
  });

  describe('a tampered value never verifies', () => {
    // Every position (id, dot, signature), each replaced by the next base64url character, and by
    // its case-swapped / low-bit neighbour, so the last character's unused bits are covered too.
    const flips = Array.from({ length: SIGNED.length }, (_, position) => position).flatMap((position) => {
      const original = SIGNED[position];
      const index = BASE64URL.indexOf(original);
      const candidates = new Set<string>([
        BASE64URL[(index + 1) % 64],
        BASE64URL[index === -1 ? 0 : index ^ 1],
        BASE64URL[(index + 32) % 64],
      ]);
      candidates.delete(original);
      return [...candidates].map((replacement) => [position, replacement] as const);
    });

    it('covers all 87 positions', () => {
      expect(new Set(flips.map(([position]) => position)).size).toBe(87);
    });

    it.each(flips)('position %i replaced by %s', (position, replacement) => {
      const tampered = SIGNED.slice(0, position) + replacement + SIGNED.slice(position + 1);
      expect(tampered).not.toBe(SIGNED);
      expect(tampered).toHaveLength(87);
      expect(verifySessionCookie(tampered, ringA)).toBeUndefined();
    });
  });

  describe('a malformed value is refused before any crypto', () => {
    it.each([
      ['empty', ''],
      ['only the id', ID],
      ['only a dot', '.'],
      ['id and dot, no signature', `${ID}.`],
      ['truncated by one character', SIGNED.slice(0, -1)],
      ['truncated signature', SIGNED.slice(0, 60)],
      ['one extra character', `${SIGNED}A`],
      ['an extra dot', `${SIGNED}.`],
      ['an extra dot and signature', `${SIGNED}.${SIGNED.slice(44)}`],
      ['double-quoted', `"${SIGNED}"`],
      ['percent-encoded dot', SIGNED.replace('.', '%2E')],
      ['percent-encoded dot, lower case', SIGNED.replace('.', '%2e')],
      ['padded signature', `${SIGNED}=`],
      ['leading space', ` ${SIGNED}`],
      ['trailing space', `${SIGNED} `],
      ['standard base64 alphabet', SIGNED.replace(/-/g, '+').replace(/_/g, '/').replace(/^./, '+')],
      ['signature and id swapped', `${SIGNED.slice(44)}.${ID}`],
      ['a short id signed properly', signSessionId('short', ringA)],
    ])('%s', (_label, value) => {
      expect(verifySessionCookie(value, ringA)).toBeUndefined();
    });
  });
});

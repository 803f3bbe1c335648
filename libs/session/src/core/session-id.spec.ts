import { createHash } from 'node:crypto';
import { generateSessionId, hashSessionId, isWellFormedSessionId, SESSION_ID_BYTES } from './session-id';

describe('generateSessionId', () => {
  it('asks the random source for 32 bytes and encodes them as 43 characters of unpadded base64url', () => {
    const requested: number[] = [];
    const bytes = Buffer.from(Array.from({ length: 32 }, (_, index) => index * 8));
    const id = generateSessionId((size) => {
      requested.push(size);
      return bytes;
    });
    expect(requested).toEqual([SESSION_ID_BYTES]);
    expect(SESSION_ID_BYTES).toBe(32);
    expect(id).toHaveLength(43);
    expect(Buffer.from(id, 'base64url').equals(bytes)).toBe(true);
  });

  it.each([0x00, 0xff, 0xfb, 0x3e])('gives a well-formed id for bytes all 0x%s', (byte) => {
    const id = generateSessionId((size) => Buffer.alloc(size, byte));
    expect(isWellFormedSessionId(id)).toBe(true);
  });

  it('is deterministic for a given random source', () => {
    const source = (size: number) => Buffer.alloc(size, 42);
    expect(generateSessionId(source)).toBe(generateSessionId(source));
  });

  it('uses the CSPRNG by default: 1000 ids, all well formed and distinct', () => {
    const ids = Array.from({ length: 1000 }, () => generateSessionId());
    expect(ids.every(isWellFormedSessionId)).toBe(true);
    expect(new Set(ids).size).toBe(1000);
  });
});

describe('isWellFormedSessionId', () => {
  const valid = generateSessionId((size) => Buffer.alloc(size, 1));

  it.each<[string, string, boolean]>([
    ['a generated id', valid, true],
    ['43 characters using - and _', `${'-_'.repeat(21)}A`, true],
    ['empty', '', false],
    ['42 characters', valid.slice(0, 42), false],
    ['44 characters', `${valid}A`, false],
    ['with "=" padding', `${valid.slice(0, 42)}=`, false],
    ['standard base64 "+"', `${valid.slice(0, 42)}+`, false],
    ['standard base64 "/"', `${valid.slice(0, 42)}/`, false],
    ['a dot', `${valid.slice(0, 42)}.`, false],
    ['a trailing newline', `${valid}\n`, false],
    ['a signed cookie value', `${valid}.${valid}`, false],
  ])('%s: %s', (_label, value, expected) => {
    expect(isWellFormedSessionId(value)).toBe(expected);
  });
});

describe('hashSessionId', () => {
  it.each([
    // FIPS 180-2 test vectors, in base64url
    ['', createHash('sha256').update('').digest('base64url'), '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU'],
    ['abc', createHash('sha256').update('abc').digest('base64url'), 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0'],
  ])('is SHA-256 in base64url (%j)', (input, computed, vector) => {
    expect(computed).toBe(vector);
    expect(hashSessionId(input)).toBe(vector);
  });

  const id = generateSessionId((size) => Buffer.alloc(size, 9));

  it('never returns the id itself, and is 43 characters of base64url', () => {
    const key = hashSessionId(id);
    expect(key).not.toBe(id);
    expect(key).not.toContain(id);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it.each([
    ['one changed character', id.slice(0, -1) + (id.endsWith('A') ? 'B' : 'A')],
    ['a case change', id.toLowerCase() === id ? id.toUpperCase() : id.toLowerCase()],
    ['a truncated id', id.slice(0, 42)],
  ])('gives a different key for %s', (_label, other) => {
    expect(other).not.toBe(id);
    expect(hashSessionId(other)).not.toBe(hashSessionId(id));
  });
});

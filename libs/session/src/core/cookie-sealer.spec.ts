import { createCipheriv } from 'node:crypto';
import {
  MAX_COOKIE_BYTES,
  SEALED_OVERHEAD_BYTES,
  maxSealedPlaintextBytes,
  openCookieValue,
  sealCookieValue,
  sealedCookieLength,
} from './cookie-sealer';
import { KeyRing } from './key-ring';
import type { RandomSource } from './session-id';

const SECRET_OLD = 'test-only-secret-A-0123456789abcdefghijklmnop';
const SECRET_NEW = 'test-only-secret-B-qrstuvwxyz9876543210ABCDEF';
const SECRET_OTHER = 'test-only-secret-C-GHIJKLMNOPQRSTUVWXYZ012345';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const CONTEXT = 'sid';

const ringOld = KeyRing.fromSecrets([SECRET_OLD]);
const ringOther = KeyRing.fromSecrets([SECRET_OTHER]);

/** A random source that always returns `size` copies of one byte, so failures are reproducible. */
function fixedRandom(byte: number): RandomSource {
  return (size) => Buffer.alloc(size, byte);
}

interface RawSeal {
  readonly version?: number;
  readonly keyId: Buffer;
  readonly key: Buffer;
  readonly nonce?: Buffer;
  readonly plaintext: Buffer;
  readonly context?: string;
}

// The documented format written out independently of the module: values built here exercise one
// check at a time (version, key id, UTF-8) with everything else valid.
function sealRaw({ version = 0x01, keyId, key, nonce = Buffer.alloc(12, 3), plaintext, context = CONTEXT }: RawSeal): string {
  const header = Buffer.concat([Buffer.from([version]), keyId, nonce]);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  cipher.setAAD(Buffer.concat([Buffer.from([version]), keyId, Buffer.from(context, 'utf8')]));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, ciphertext, cipher.getAuthTag()]).toString('base64url');
}

function region(offset: number, length: number): string {
  if (offset === 0) return 'version';
  if (offset < 5) return 'key id';
  if (offset < 17) return 'nonce';
  if (offset < length - 16) return 'ciphertext';
  return 'tag';
}

const SESSION_JSON = JSON.stringify({
  user: { id: 'u-42', name: 'Zoë', roles: ['admin', 'editor'] },
  cart: Array.from({ length: 70 }, (_, index) => ({ sku: `SKU-${index}`, quantity: index % 5, note: 'ok' })),
});

describe('sealCookieValue', () => {
  const plaintext = 'hello, sealed world';
  const nonceByte = 0x5a;
  const value = sealCookieValue(plaintext, ringOld, CONTEXT, fixedRandom(nonceByte));
  const bytes = Buffer.from(value, 'base64url');

  it('writes unpadded base64url only', () => {
    expect(value).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('lays out version 0x01 | key id | nonce | ciphertext | tag', () => {
    expect(bytes).toHaveLength(SEALED_OVERHEAD_BYTES + Buffer.byteLength(plaintext));
    expect(bytes[0]).toBe(0x01);
    expect(bytes.subarray(1, 5).equals(ringOld.currentSealingKey.id)).toBe(true);
    expect(bytes.subarray(5, 17).equals(Buffer.alloc(12, nonceByte))).toBe(true);
    expect(bytes.subarray(17, bytes.length - 16).includes(Buffer.from(plaintext))).toBe(false);
  });

  it('is exactly AES-256-GCM with version, key id and context as additional data', () => {
    const { key, id } = ringOld.currentSealingKey;
    const reference = sealRaw({ keyId: id, key, nonce: Buffer.alloc(12, nonceByte), plaintext: Buffer.from(plaintext) });
    expect(value).toBe(reference);
  });

  it('seals with the current (first) key of the ring', () => {
    const ring = KeyRing.fromSecrets([SECRET_NEW, SECRET_OLD]);
    const sealed = Buffer.from(sealCookieValue(plaintext, ring, CONTEXT), 'base64url');
    expect(sealed.subarray(1, 5).equals(ring.currentSealingKey.id)).toBe(true);
    expect(sealed.subarray(1, 5).equals(ringOld.currentSealingKey.id)).toBe(false);
  });

  it('draws a fresh nonce for every seal: the same plaintext seals differently each time', () => {
    const values = Array.from({ length: 20 }, () => sealCookieValue(plaintext, ringOld, CONTEXT));
    expect(new Set(values).size).toBe(values.length);
    expect(new Set(values.map((sealed) => Buffer.from(sealed, 'base64url').subarray(5, 17).toString('hex'))).size).toBe(
      values.length,
    );
    values.forEach((sealed) => expect(openCookieValue(sealed, ringOld, CONTEXT)?.plaintext).toBe(plaintext));
  });

  describe('takes its nonce from the injected random source', () => {
    it('asks it for 12 bytes, once per seal', () => {
      const sizes: number[] = [];
      sealCookieValue(plaintext, ringOld, CONTEXT, (size) => {
        sizes.push(size);
        return Buffer.alloc(size, 1);
      });
      expect(sizes).toEqual([12]);
    });

    it.each([0x00, 0x01, 0x7f, 0xff])('same random (every byte %i) gives the same output', (byte) => {
      const first = sealCookieValue(plaintext, ringOld, CONTEXT, fixedRandom(byte));
      const second = sealCookieValue(plaintext, ringOld, CONTEXT, fixedRandom(byte));
      expect(second).toBe(first);
      expect(openCookieValue(first, ringOld, CONTEXT)?.plaintext).toBe(plaintext);
    });

    it('different random gives different output', () => {
      expect(sealCookieValue(plaintext, ringOld, CONTEXT, fixedRandom(1))).not.toBe(
        sealCookieValue(plaintext, ringOld, CONTEXT, fixedRandom(2)),
      );
    });

    it.each([0, 8, 11, 13, 16])('refuses a source that returns %i bytes instead of 12', (length) => {
      expect(() => sealCookieValue(plaintext, ringOld, CONTEXT, () => Buffer.alloc(length, 1))).toThrow(RangeError);
    });
  });

  it.each([
    ['plaintext with a lone high surrogate', 'a\uD800b', CONTEXT],
    ['plaintext with a lone low surrogate', '\uDC00', CONTEXT],
    ['context with a lone surrogate', 'ok', 'sid\uD800'],
  ])('refuses %s, which has no exact UTF-8 form', (_label, text, context) => {
    expect(() => sealCookieValue(text, ringOld, context)).toThrow(TypeError);
  });
});

describe('openCookieValue', () => {
  describe('round trip', () => {
    it.each([
      ['ASCII', 'user=42; role=admin'],
      ['unicode (accents, CJK, emoji, combining marks)', 'Zoë · 東京 · 👩🏽‍💻 · e\u0301'],
      ['the empty string', ''],
      ['a leading byte order mark', '\uFEFFbom'],
      ['NUL and control characters', 'a\u0000b\u0001\n\t'],
      ['a 3 KB session as JSON', SESSION_JSON],
    ])('%s', (_label, plaintext) => {
      const value = sealCookieValue(plaintext, ringOld, CONTEXT);
      expect(openCookieValue(value, ringOld, CONTEXT)).toEqual({ plaintext, sealedWithCurrentKey: true });
    });

    it('the JSON case is about 3 KB', () => {
      expect(Buffer.byteLength(SESSION_JSON)).toBeGreaterThan(2900);
      expect(Buffer.byteLength(SESSION_JSON)).toBeLessThan(3300);
    });
  });

  describe('key ring', () => {
    const sealedUnderOld = sealCookieValue('payload', ringOld, CONTEXT);

    it.each<[string, readonly string[], { plaintext: string; sealedWithCurrentKey: boolean } | undefined]>([
      ['the sealing key alone', [SECRET_OLD], { plaintext: 'payload', sealedWithCurrentKey: true }],
      ['the sealing key first, another after', [SECRET_OLD, SECRET_NEW], { plaintext: 'payload', sealedWithCurrentKey: true }],
      ['a new key, then the sealing key', [SECRET_NEW, SECRET_OLD], { plaintext: 'payload', sealedWithCurrentKey: false }],
      ['the sealing key third', [SECRET_NEW, SECRET_OTHER, SECRET_OLD], { plaintext: 'payload', sealedWithCurrentKey: false }],
      ['the new key alone (old key retired)', [SECRET_NEW], undefined],
      ['a wrong key', [SECRET_OTHER], undefined],
      ['several wrong keys', [SECRET_NEW, SECRET_OTHER], undefined],
    ])('value sealed under the old key, opened with %s', (_label, secrets, expected) => {
      expect(openCookieValue(sealedUnderOld, KeyRing.fromSecrets(secrets), CONTEXT)).toEqual(expected);
    });

    it('chooses the key by its id: a ciphertext under another key of the ring, labelled with this id, fails', () => {
      const ring = KeyRing.fromSecrets([SECRET_NEW, SECRET_OLD]);
      const [current, older] = ring.sealingKeys;
      const mislabelled = sealRaw({ keyId: current.id, key: older.key, plaintext: Buffer.from('payload') });
      const labelled = sealRaw({ keyId: older.id, key: older.key, plaintext: Buffer.from('payload') });
      expect(openCookieValue(labelled, ring, CONTEXT)).toEqual({ plaintext: 'payload', sealedWithCurrentKey: false });
      expect(openCookieValue(mislabelled, ring, CONTEXT)).toBeUndefined();
    });

    it.each([
      ['all zero', Buffer.alloc(4, 0)],
      ['all ones', Buffer.alloc(4, 0xff)],
      ['the id of a key outside the ring', ringOther.currentSealingKey.id],
    ])('refuses an unknown key id (%s), even over a ciphertext the ring key would open', (_label, keyId) => {
      const value = sealRaw({ keyId, key: ringOld.currentSealingKey.key, plaintext: Buffer.from('payload') });
      expect(openCookieValue(value, ringOld, CONTEXT)).toBeUndefined();
    });
  });

  describe('version', () => {
    const { key, id } = ringOld.currentSealingKey;

    it('opens a well-made version 0x01 value (control)', () => {
      const value = sealRaw({ version: 0x01, keyId: id, key, plaintext: Buffer.from('payload') });
      expect(openCookieValue(value, ringOld, CONTEXT)?.plaintext).toBe('payload');
    });

    it.each([0x00, 0x02, 0x7f, 0x80, 0xff])('refuses version byte %i, even correctly encrypted', (version) => {
      const value = sealRaw({ version, keyId: id, key, plaintext: Buffer.from('payload') });
      expect(openCookieValue(value, ringOld, CONTEXT)).toBeUndefined();
    });
  });

  describe('context (cookie name)', () => {
    const value = sealCookieValue('payload', ringOld, CONTEXT);

    it('opens under the same context (control)', () => {
      expect(openCookieValue(value, ringOld, CONTEXT)?.plaintext).toBe('payload');
    });

    it.each([['SID'], ['sid '], [' sid'], [''], ['session'], ['sid\u0000'], ['__Host-sid'], ['sid\uD800']])(
      'refuses context %j',
      (context) => {
        expect(openCookieValue(value, ringOld, context)).toBeUndefined();
      },
    );

    it('an empty context is a context of its own', () => {
      const emptyContext = sealCookieValue('payload', ringOld, '');
      expect(openCookieValue(emptyContext, ringOld, '')?.plaintext).toBe('payload');
      expect(openCookieValue(emptyContext, ringOld, CONTEXT)).toBeUndefined();
    });
  });

  describe('plaintext that is not UTF-8', () => {
    const { key, id } = ringOld.currentSealingKey;

    it('opens valid UTF-8 bytes (control)', () => {
      const value = sealRaw({ keyId: id, key, plaintext: Buffer.from('Zoë', 'utf8') });
      expect(openCookieValue(value, ringOld, CONTEXT)?.plaintext).toBe('Zoë');
    });

    it.each([
      ['a lone 0xff', [0x61, 0xff, 0x62]],
      ['a truncated sequence', [0xc3]],
      ['a bad continuation byte', [0xc3, 0x28]],
      ['an overlong slash', [0xc0, 0xaf]],
      ['an encoded surrogate', [0xed, 0xa0, 0x80]],
      ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ])('refuses %s, even correctly sealed', (_label, plaintextBytes) => {
      const value = sealRaw({ keyId: id, key, plaintext: Buffer.from(plaintextBytes) });
      expect(openCookieValue(value, ringOld, CONTEXT)).toBeUndefined();
    });
  });

  describe('a tampered value never opens', () => {
    // A fixed nonce of 0xff bytes puts `_` characters in the value (see the alphabet case below).
    const original = sealCookieValue('{"user":"u-42","role":"admin"}', ringOld, CONTEXT, fixedRandom(0xff));
    const bytes = Buffer.from(original, 'base64url');

    it('opens untampered (control)', () => {
      expect(openCookieValue(original, ringOld, CONTEXT)?.plaintext).toBe('{"user":"u-42","role":"admin"}');
    });

    describe.each(['version', 'key id', 'nonce', 'ciphertext', 'tag'])('flipping each bit of the %s', (name) => {
      const offsets = Array.from(bytes.keys()).filter((offset) => region(offset, bytes.length) === name);

      it('covers at least one byte', () => {
        expect(offsets.length).toBeGreaterThan(0);
      });

      it.each(offsets)('byte %i, all 8 bits', (offset) => {
        const opened = Array.from({ length: 8 }, (_, bit) => {
          const tampered = Buffer.from(bytes);
          tampered[offset] ^= 1 << bit;
          return openCookieValue(tampered.toString('base64url'), ringOld, CONTEXT);
        });
        expect(opened).toEqual(Array.from({ length: 8 }, () => undefined));
      });
    });

    it('the five regions together cover every byte', () => {
      const sizes = ['version', 'key id', 'nonce', 'ciphertext', 'tag'].map(
        (name) => Array.from(bytes.keys()).filter((offset) => region(offset, bytes.length) === name).length,
      );
      expect(sizes).toEqual([1, 4, 12, Buffer.byteLength('{"user":"u-42","role":"admin"}'), 16]);
    });

    // Every other character of the alphabet at every position: this includes spellings of the last
    // character that differ only in unused low bits and decode to the very same bytes.
    it.each(Array.from(original, (_, position) => position))('character %i replaced by each other character', (position) => {
      const opened = [...BASE64URL]
        .filter((replacement) => replacement !== original[position])
        .map((replacement) => {
          const tampered = original.slice(0, position) + replacement + original.slice(position + 1);
          return [replacement, openCookieValue(tampered, ringOld, CONTEXT)] as const;
        })
        .filter(([, result]) => result !== undefined);
      expect(opened).toEqual([]);
    });

    describe.each([
      // decoded length % 3 === 1: the last character carries 2 bits, 4 unused.
      ['4 unused bits', 'x'.repeat(1)],
      // decoded length % 3 === 2: the last character carries 4 bits, 2 unused.
      ['2 unused bits', 'x'.repeat(2)],
    ])('non-canonical spelling of the last character (%s)', (_label, plaintext) => {
      const value = sealCookieValue(plaintext, ringOld, CONTEXT);
      const decoded = Buffer.from(value, 'base64url');
      const spellings = [...BASE64URL]
        .map((last) => value.slice(0, -1) + last)
        .filter((spelling) => spelling !== value && Buffer.from(spelling, 'base64url').equals(decoded));

      it('exists: Buffer.from decodes it to the same bytes', () => {
        expect(spellings.length).toBeGreaterThan(0);
      });

      it.each(spellings)('refuses %s', (spelling) => {
        expect(openCookieValue(spelling, ringOld, CONTEXT)).toBeUndefined();
      });
    });

    it.each(Array.from({ length: bytes.length }, (_, index) => index + 1))('truncated by %i bytes', (cut) => {
      const truncated = bytes.subarray(0, bytes.length - cut).toString('base64url');
      expect(openCookieValue(truncated, ringOld, CONTEXT)).toBeUndefined();
    });

    it.each(Array.from({ length: original.length }, (_, index) => index + 1))('truncated by %i characters', (cut) => {
      expect(openCookieValue(original.slice(0, original.length - cut), ringOld, CONTEXT)).toBeUndefined();
    });

    it.each([0x00, 0x01, 0x80, 0xff, bytes[bytes.length - 1]])('extended by byte %i', (extra) => {
      const extended = Buffer.concat([bytes, Buffer.from([extra])]).toString('base64url');
      expect(openCookieValue(extended, ringOld, CONTEXT)).toBeUndefined();
    });

    it.each([...'AQgw_-'])('extended by character %s', (extra) => {
      expect(openCookieValue(original + extra, ringOld, CONTEXT)).toBeUndefined();
    });

    it('a whole second value appended', () => {
      expect(openCookieValue(original + original, ringOld, CONTEXT)).toBeUndefined();
    });
  });

  describe('a malformed value is refused', () => {
    const value = sealCookieValue('payload', ringOld, CONTEXT, fixedRandom(0xff));
    const standardBase64 = Buffer.from(value, 'base64url').toString('base64').replace(/=+$/, '');

    it('the standard-alphabet case really differs from the value', () => {
      expect(standardBase64).not.toBe(value);
      expect(standardBase64).toMatch(/[+/]/);
    });

    it.each([
      ['empty', ''],
      ['garbage', 'garbage'],
      ['garbage of a plausible length', 'not-a-sealed-cookie-value-at-all-but-long-enough-to-pass'],
      ['only the header, all zero', Buffer.alloc(17).toString('base64url')],
      ['overhead length of zero bytes', Buffer.alloc(33).toString('base64url')],
      ['overhead length minus one byte', Buffer.alloc(32, 1).toString('base64url')],
      ['double-quoted', `"${value}"`],
      ['single-quoted', `'${value}'`],
      ['first character percent-encoded', `%${value.charCodeAt(0).toString(16).toUpperCase()}${value.slice(1)}`],
      ['an underscore percent-encoded', value.replace('_', '%5F')],
      ['padded with =', `${value}=`],
      ['padded with ==', `${value}==`],
      ['standard base64 alphabet', standardBase64],
      ['leading space', ` ${value}`],
      ['trailing space', `${value} `],
      ['trailing newline', `${value}\n`],
      ['space in the middle', `${value.slice(0, 20)} ${value.slice(20)}`],
      ['the cookie name included', `${CONTEXT}=${value}`],
      ['a dot and signature appended', `${value}.${'A'.repeat(43)}`],
      ['a length that is 1 mod 4 (no byte string has it)', `${value.slice(0, 4 * Math.floor(value.length / 4))}A`],
      ['non-ASCII letters', value.replace(/^./, 'é')],
    ])('%s', (_label, malformed) => {
      expect(openCookieValue(malformed, ringOld, CONTEXT)).toBeUndefined();
    });

    it.each([
      ['undefined', undefined],
      ['null', null],
      ['a number', 42],
      ['an object', { value }],
    ])('refuses %s without throwing, for untyped callers', (_label, notAString) => {
      expect(openCookieValue(notAString as unknown as string, ringOld, CONTEXT)).toBeUndefined();
    });
  });
});

describe('sealedCookieLength', () => {
  const sizes = [...Array.from({ length: 301 }, (_, size) => size), ...Array.from({ length: 21 }, (_, index) => 2990 + index)];

  it.each(sizes)('is the exact length of a sealed %i-byte plaintext', (size) => {
    expect(sealCookieValue('x'.repeat(size), ringOld, CONTEXT)).toHaveLength(sealedCookieLength(size));
  });

  it.each([
    ['2-byte characters', 'é'.repeat(50)],
    ['3-byte characters', '東'.repeat(50)],
    ['4-byte characters', '👩'.repeat(50)],
  ])('counts UTF-8 bytes, not string length (%s)', (_label, plaintext) => {
    expect(sealCookieValue(plaintext, ringOld, CONTEXT)).toHaveLength(sealedCookieLength(Buffer.byteLength(plaintext)));
  });

  it('grows by 4 characters for every 3 bytes of plaintext', () => {
    [0, 1, 2, 100, 3000].forEach((size) => expect(sealedCookieLength(size + 3) - sealedCookieLength(size)).toBe(4));
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1])('refuses %p', (size) => {
    expect(() => sealedCookieLength(size)).toThrow(RangeError);
  });
});

describe('maxSealedPlaintextBytes', () => {
  const cookieBytes = (name: string, plaintextBytes: number) =>
    Buffer.byteLength(`${name}=${sealCookieValue('x'.repeat(plaintextBytes), ringOld, name)}`);

  it.each(['sid', 'a', '__Host-sid', 'session-cookie-with-a-rather-long-name'])(
    'is the largest plaintext whose `%s=<value>` fits in MAX_COOKIE_BYTES',
    (name) => {
      const limit = maxSealedPlaintextBytes(name);
      expect(limit).toBeGreaterThan(3000);
      expect(cookieBytes(name, limit)).toBeLessThanOrEqual(MAX_COOKIE_BYTES);
      expect(cookieBytes(name, limit + 1)).toBeGreaterThan(MAX_COOKIE_BYTES);
    },
  );

  it('is 0 when the name leaves room for exactly an empty plaintext', () => {
    const name = 'n'.repeat(MAX_COOKIE_BYTES - 1 - sealedCookieLength(0));
    expect(maxSealedPlaintextBytes(name)).toBe(0);
    expect(cookieBytes(name, 0)).toBe(MAX_COOKIE_BYTES);
  });

  it.each([MAX_COOKIE_BYTES - sealedCookieLength(0), MAX_COOKIE_BYTES, MAX_COOKIE_BYTES * 2])(
    'is negative when a %i-byte name leaves no room at all',
    (nameBytes) => {
      const name = 'n'.repeat(nameBytes);
      expect(maxSealedPlaintextBytes(name)).toBeLessThan(0);
      expect(cookieBytes(name, 0)).toBeGreaterThan(MAX_COOKIE_BYTES);
    },
  );
});

import { MAX_RETURN_URL_LENGTH, safeReturnUrl } from './return-url';

const FALLBACK = '/home';

describe('safeReturnUrl', () => {
  describe('accepts a same-origin path and returns it unchanged', () => {
    it.each([
      ['the root', '/'],
      ['a path with query and fragment', '/x?y=1#z'],
      ['a nested path', '/articles/create'],
      ['a unicode path', '/café/日本語'],
      ['a percent-encoded unicode path', '/%C3%A9t%C3%A9'],
      ['a harmless double-encoded letter (decoded twice)', '/a%2541'],
      ['a harmless triple-encoded letter (decoded three times, the limit)', '/a%252541'],
      ['an at-sign in the first segment (still a path on this origin)', '/@evil'],
      ['a colon after the first slash', '/javascript:alert(1)'],
      ['a query holding an absolute url', '/login?next=https://example.com'],
      ['a path of exactly the maximum length', '/' + 'a'.repeat(MAX_RETURN_URL_LENGTH - 1)],
      // Encoded spaces and percent signs are data, not tricks: the user keeps their place.
      ['an encoded space in the query', '/search?q=a%20b'],
      ['an encoded space in the path', '/a%20b'],
      ['an encoded percent sign', '/search?q=100%25'],
      ['an encoded percent sign followed by hex-looking text', '/search?q=100%25off'],
    ])('%s: %j', (_label, candidate) => {
      expect(safeReturnUrl(candidate, FALLBACK)).toBe(candidate);
    });
  });

  describe('refuses anything that is not a non-empty string of bounded length', () => {
    it.each<[string, unknown]>([
      ['undefined', undefined],
      ['null', null],
      ['a number', 42],
      ['a boolean', true],
      ['an array holding a path', ['/ok']],
      ['an object', { toString: () => '/ok' }],
      ['a String object', new String('/ok')],
      ['the empty string', ''],
      ['a path one character over the maximum', '/' + 'a'.repeat(MAX_RETURN_URL_LENGTH)],
    ])('%s', (_label, candidate) => {
      expect(safeReturnUrl(candidate, FALLBACK)).toBe(FALLBACK);
    });
  });

  describe('refuses urls that leave the origin or run script', () => {
    it.each([
      ['protocol-relative', '//evil.com'],
      ['protocol-relative with credentials', '//user@evil'],
      ['slash backslash', '/\\evil.com'],
      ['double backslash', '\\\\evil'],
      ['backslash later in the path', '/a\\b'],
      ['absolute https', 'https://evil.com'],
      ['absolute http with path', 'http://evil.com/x'],
      ['javascript scheme', 'javascript:alert(1)'],
      ['javascript scheme, mixed case', 'JaVaScRiPt:alert(1)'],
      ['data scheme', 'data:text/html,<script>alert(1)</script>'],
      ['relative path without a leading slash', 'evil.com'],
      ['dot-relative path', './x'],
      ['leading space', ' /x'],
      ['leading space before a protocol-relative url', ' //evil.com'],
      ['triple slash', '///evil.com'],
    ])('%s: %j', (_label, candidate) => {
      expect(safeReturnUrl(candidate, FALLBACK)).toBe(FALLBACK);
    });
  });

  describe('refuses the same tricks hidden behind percent-encoding', () => {
    it.each([
      ['encoded slashes, upper case', '/%2F%2Fevil.com'],
      ['encoded slashes, lower case', '/%2f%2fevil'],
      ['one encoded slash', '/%2Fevil.com'],
      ['encoded backslash', '/%5Cevil'],
      ['encoded backslash, lower case', '/%5cevil'],
      ['double-encoded slashes', '/%252F%252Fevil'],
      ['triple-encoded slashes', '/%25252F%25252Fevil'],
      ['quadruple-encoded harmless text (still encoded after three rounds)', '/%2525252541'],
      ['malformed escape', '/%E0%A4%A'],
      ['truncated escape', '/%'],
      ['non-hex escape', '/%zz'],
      ['encoded lone surrogate', '/%ED%A0%80'],
    ])('%s: %j', (_label, candidate) => {
      expect(safeReturnUrl(candidate, FALLBACK)).toBe(FALLBACK);
    });
  });

  describe('refuses whitespace and control characters, raw or encoded', () => {
    it.each([
      ['raw tab after the slash', '/\t/evil'],
      ['raw newline after the slash', '/\n/evil'],
      ['raw carriage return', '/\r/evil'],
      ['raw NUL', '/a\u0000b'],
      ['raw DEL', '/a\u007fb'],
      ['raw space inside', '/a b'],
      ['raw non-breaking space', '/a\u00a0b'],
      ['raw zero-width space', '/a\u200bb'],
      ['raw line separator', '/a\u2028b'],
      ['raw byte-order mark', '/a\ufeffb'],
      ['encoded tab', '/%09/evil'],
      ['encoded CRLF (header injection)', '/%0d%0a'],
      ['encoded CRLF, upper case', '/x%0D%0ASet-Cookie:a=b'],
      ['encoded NUL', '/%00'],
      ['double-encoded tab', '/%2509/evil'],
      ['trailing newline', '/x\n'],
    ])('%s: %j', (_label, candidate) => {
      expect(safeReturnUrl(candidate, FALLBACK)).toBe(FALLBACK);
    });
  });

  describe('the fallback', () => {
    it.each<[string, unknown, string]>([
      ['a refused url', '//evil.com', '/dashboard'],
      ['a non-string', 12, '/start'],
      ['the empty string', '', '/somewhere'],
    ])('is returned as given for %s', (_label, candidate, fallback) => {
      expect(safeReturnUrl(candidate, fallback)).toBe(fallback);
    });

    it.each([
      ['a refused url', '//evil.com', '/'],
      ['a safe url', '/ok', '/ok'],
    ])('defaults to "/" when omitted (%s)', (_label, candidate, expected) => {
      expect(safeReturnUrl(candidate)).toBe(expected);
    });
  });
});

/** Longest return url kept, in characters; longer values are refused rather than truncated. */
export const MAX_RETURN_URL_LENGTH = 2048;

// In the value as given: control characters (C0, DEL, C1), every kind of whitespace and the
// backslash. Browsers strip or reinterpret them (`/\t/evil.example` becomes `//evil.example`).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_RAW = /[\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u3000\ufeff\\]/;
// In its percent-decoded forms: control characters and backslashes. An encoded space or percent
// sign (`?q=a%20b`, `?q=100%25`) is ordinary data and stays allowed.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_DECODED = /[\u0000-\u001f\u007f-\u009f\\]/;
const PLACEHOLDER_ORIGIN = 'http://return-url.invalid';
const MAX_DECODE_ROUNDS = 3;

/**
 * Returns `candidate` when it is a safe same-origin path (`/x?y#z`), otherwise `fallback`.
 *
 * Refused: anything not a string, empty or over {@link MAX_RETURN_URL_LENGTH}; absolute and
 * scheme urls (`https://evil`, `javascript:`); protocol-relative `//evil` and `/\evil`;
 * backslashes, whitespace and control characters anywhere; malformed percent-escapes; and the
 * same tricks hidden behind percent-encoding (`/%2F%2Fevil`, `/%09/evil`, `/%5Cevil`), decoded up
 * to three times. Finally the value is resolved against a placeholder origin and must stay on it,
 * so a case the rules missed still cannot leave the site. This is the open-redirect defence
 * (OWASP "Unvalidated Redirects and Forwards").
 */
export function safeReturnUrl(candidate: unknown, fallback = '/'): string {
  if (typeof candidate !== 'string') return fallback;
  if (candidate.length === 0 || candidate.length > MAX_RETURN_URL_LENGTH) return fallback;
  if (!startsAsPath(candidate) || FORBIDDEN_RAW.test(candidate)) return fallback;

  let decoded = candidate;
  for (let round = 1; decoded.includes('%'); round++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      // The value as given has malformed escapes (`%E0%A4%A`, lone surrogates): not a url we made.
      // In a later round a stray `%` is just a decoded literal (`?q=100%25`): nothing left to hide.
      if (round === 1) return fallback;
      break;
    }
    if (next === decoded) break;
    if (!startsAsPath(next) || FORBIDDEN_DECODED.test(next)) return fallback;
    if (round === MAX_DECODE_ROUNDS) {
      if (next.includes('%') && /%[0-9a-f]{2}/i.test(next)) return fallback; // still encoded: refuse
      break;
    }
    decoded = next;
  }

  let resolved: URL;
  try {
    resolved = new URL(candidate, PLACEHOLDER_ORIGIN);
  } catch {
    return fallback;
  }
  if (resolved.origin !== PLACEHOLDER_ORIGIN) return fallback;
  return candidate;
}

/** One leading slash, not followed by another slash or a backslash (`//host`, `/\host`). */
function startsAsPath(value: string): boolean {
  if (value.charCodeAt(0) !== 0x2f /* / */) return false;
  const second = value.charCodeAt(1);
  return second !== 0x2f /* / */ && second !== 0x5c /* \ */;
}

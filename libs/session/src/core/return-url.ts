/** Longest return url kept, in characters; longer values are refused rather than truncated. */
export const MAX_RETURN_URL_LENGTH = 2048;

// Control characters (C0, DEL, C1) and every kind of whitespace: browsers strip or reinterpret
// them (`/\t/evil.example` becomes `//evil.example`), so none may appear, raw or encoded.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_CHARACTER = /[\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u3000\ufeff\\]/;
const PLACEHOLDER_ORIGIN = 'http://return-url.invalid';
const MAX_DECODE_ROUNDS = 3;

/**
 * Returns `candidate` when it is a safe same-origin path (`/x?y#z`), otherwise `fallback`.
 *
 * Refused: anything not a string, empty or over {@link MAX_RETURN_URL_LENGTH}; absolute and
 * scheme urls (`https://evil`, `javascript:`); protocol-relative `//evil` and `/\evil`;
 * backslashes, whitespace and control characters anywhere; and the same tricks hidden behind
 * percent-encoding (`/%2F%2Fevil`, `/%09/evil`), decoded up to three times. Finally the value is
 * resolved against a placeholder origin and must stay on it, so a case the rules missed still
 * cannot leave the site. This is the open-redirect defence (OWASP "Unvalidated Redirects").
 */
export function safeReturnUrl(candidate: unknown, fallback = '/'): string {
  if (typeof candidate !== 'string') return fallback;
  if (candidate.length === 0 || candidate.length > MAX_RETURN_URL_LENGTH) return fallback;
  let decoded = candidate;
  for (let round = 0; round <= MAX_DECODE_ROUNDS; round++) {
    if (!isPlainPath(decoded)) return fallback;
    if (!decoded.includes('%')) break;
    try {
      const next = decodeURIComponent(decoded);
      if (next === decoded) break;
      decoded = next;
    } catch {
      return fallback; // malformed escapes (`%E0%A4%A`, lone surrogates) are not a url we made
    }
    if (round === MAX_DECODE_ROUNDS) return fallback; // still encoded after three rounds: refuse
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

function isPlainPath(value: string): boolean {
  if (value.charCodeAt(0) !== 0x2f /* / */) return false;
  const second = value.charCodeAt(1);
  if (second === 0x2f /* / */ || second === 0x5c /* \ */) return false;
  return !FORBIDDEN_CHARACTER.test(value);
}

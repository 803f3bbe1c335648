import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The session id an express-session cookie carries, read exactly as express-session 1.x reads it
 * (its `getcookie` over cookie 0.7's `parse` and cookie-signature's `unsign`), or undefined for
 * anything express-session would not accept:
 *
 * - the first cookie of that name wins (later duplicates are ignored, as express-session does);
 * - surrounding double quotes are dropped; the value is percent-decoded only when it contains `%`,
 *   and kept as it is when that decoding fails (a broken escape then fails the signature);
 * - it must start with `s:`, then `<id>.<signature>` split at the last `.`, where the signature is
 *   HMAC-SHA256 of the id under one of `secrets`, base64 with its `=` padding removed.
 *
 * The comparison is constant-time (express-session compares SHA-1 digests of both strings; the
 * accepted values are the same).
 *
 * One refusal express-session does not make: when a later cookie of that name is validly signed
 * for another id, nothing is accepted. A sibling subdomain can put a cookie of its own in front of
 * the user's (cookie tossing); express-session would take it, this library's own cookies refuse
 * such ambiguity, and so does the move from express-session.
 */
export function readExpressSessionCookie(header: string | undefined, name: string, secrets: readonly string[]): string | undefined {
  if (header === undefined) return undefined;
  const [first, ...later] = cookieValues(header, name);
  const id = first === undefined ? undefined : verifiedId(first, secrets);
  if (id === undefined) return undefined;
  for (const value of later) {
    const other = verifiedId(value, secrets);
    if (other !== undefined && other !== id) return undefined;
  }
  return id;
}

/** The id of one `s:<id>.<signature>` value, when signed with one of `secrets`. */
function verifiedId(raw: string, secrets: readonly string[]): string | undefined {
  if (!raw.startsWith('s:')) return undefined;
  const signed = raw.slice(2);
  const dot = signed.lastIndexOf('.');
  if (dot === -1) return undefined;
  const id = signed.slice(0, dot);
  // express-session treats an empty id as no session id at all.
  if (id === '') return undefined;
  const given = Buffer.from(signed.slice(dot + 1));
  for (const secret of secrets) {
    const expected = Buffer.from(signExpressSessionId(id, secret));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return id;
  }
  return undefined;
}

/** express-session's signature of an id (cookie-signature's `sign`, without the `id.` part). */
export function signExpressSessionId(id: string, secret: string): string {
  return createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');
}

/** The values of cookie `name` in a `Cookie` header, in order, each decoded as cookie 0.7's `parse` does. */
function cookieValues(header: string, name: string): string[] {
  const values: string[] = [];
  const length = header.length;
  let index = 0;
  while (index < length) {
    const equals = header.indexOf('=', index);
    if (equals === -1) break;
    let end = header.indexOf(';', index);
    if (end === -1) end = length;
    else if (equals > end) {
      // A pair without '=': go on from the ';' before this '='.
      index = header.lastIndexOf(';', equals - 1) + 1;
      continue;
    }
    const keyStart = skipBlanksForward(header, index, equals);
    const key = header.slice(keyStart, skipBlanksBackward(header, equals, keyStart));
    if (key === name) {
      let valueStart = skipBlanksForward(header, equals + 1, end);
      let valueEnd = skipBlanksBackward(header, end, valueStart);
      if (header.charCodeAt(valueStart) === 0x22 && header.charCodeAt(valueEnd - 1) === 0x22) {
        valueStart++;
        valueEnd--;
      }
      values.push(decodeLikeExpressSession(header.slice(valueStart, valueEnd)));
    }
    index = end + 1;
  }
  return values;
}

function decodeLikeExpressSession(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function skipBlanksForward(text: string, index: number, max: number): number {
  for (; index < max; index++) {
    const code = text.charCodeAt(index);
    if (code !== 0x20 && code !== 0x09) return index;
  }
  return max;
}

function skipBlanksBackward(text: string, index: number, min: number): number {
  while (index > min) {
    const code = text.charCodeAt(--index);
    if (code !== 0x20 && code !== 0x09) return index + 1;
  }
  return min;
}

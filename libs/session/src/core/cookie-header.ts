/**
 * Reads every raw value of one cookie from a `Cookie` request header, without decoding.
 *
 * Why not `cookie.parse`: it keeps only the first of duplicated names and percent-decodes values.
 * A session cookie must be compared exactly as issued (no decoding tricks), and duplicates must be
 * seen: a sibling subdomain can "toss" a second cookie with the same name, and picking whichever
 * comes first would let it fixate a session.
 */
export function readCookieValues(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  if (!header || !header.includes(name)) return values;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const equals = header.indexOf('=', start);
    if (equals !== -1 && equals < end && header.slice(start, equals).trim() === name) {
      values.push(header.slice(equals + 1, end).trim());
    }
    start = end + 1;
  }
  return values;
}

import type { Response } from 'supertest';

/** Name of the example app's session cookie outside production. */
export const SESSION_COOKIE = 'sid';

/** One `Set-Cookie` header, split into its parts. Attribute names are lower-cased. */
export interface SetCookie {
  readonly raw: string;
  readonly name: string;
  readonly value: string;
  readonly attributes: ReadonlyMap<string, string | true>;
}

/** Every `Set-Cookie` header of a response, raw. */
export function setCookieHeadersOf(res: Response): string[] {
  const header: unknown = res.headers['set-cookie'];
  if (Array.isArray(header)) return header.filter((value): value is string => typeof value === 'string');
  return typeof header === 'string' ? [header] : [];
}

/** Parses one `Set-Cookie` header value (RFC 6265 §5.2, enough for assertions). */
export function parseSetCookie(raw: string): SetCookie {
  const [pair = '', ...parts] = raw.split(';');
  const equals = pair.indexOf('=');
  const attributes = new Map<string, string | true>();
  for (const part of parts) {
    const index = part.indexOf('=');
    const name = (index === -1 ? part : part.slice(0, index)).trim().toLowerCase();
    if (name) attributes.set(name, index === -1 ? true : part.slice(index + 1).trim());
  }
  return {
    raw,
    name: (equals === -1 ? '' : pair.slice(0, equals)).trim(),
    value: (equals === -1 ? pair : pair.slice(equals + 1)).trim(),
    attributes,
  };
}

/** The `Set-Cookie` of the named cookie in a response, or undefined when the response sets none. */
export function setCookieOf(res: Response, name = SESSION_COOKIE): SetCookie | undefined {
  const found = setCookieHeadersOf(res).map(parseSetCookie).filter((cookie) => cookie.name === name);
  expect(found.length).toBeLessThanOrEqual(1); // two Set-Cookie for one name would be ambiguous
  return found[0];
}

/**
 * The session cookie a response issued, as the `name=value` pair a browser would send back.
 * Fails the test when the response issued none (or only a deletion).
 */
export function sessionCookieOf(res: Response, name = SESSION_COOKIE): string {
  const cookie = setCookieOf(res, name);
  if (!cookie) throw new Error(`expected the response to set the ${name} cookie, it set: ${JSON.stringify(setCookieHeadersOf(res))}`);
  expect(cookie.value).not.toBe('');
  expect(cookie.attributes.get('max-age')).not.toBe('0');
  return `${cookie.name}=${cookie.value}`;
}

/** The value part of a `name=value` cookie pair. */
export function cookieValueOf(pair: string): string {
  return pair.slice(pair.indexOf('=') + 1);
}

/** The session id inside a signed cookie value (`<id>.<signature>`). */
export function sessionIdOf(pair: string): string {
  const value = cookieValueOf(pair);
  const dot = value.indexOf('.');
  return dot === -1 ? value : value.slice(0, dot);
}

/** Asserts the response sets the named cookie to a live (non-empty, unexpired) value. */
export function shouldSetCookie(res: Response, name = SESSION_COOKIE): void {
  sessionCookieOf(res, name);
}

/**
 * Asserts the response sets the named cookie with an attribute (case-insensitive name), and, when
 * `value` is given, with that value (compared case-insensitively, as browsers do for SameSite).
 */
export function shouldSetCookieWithAttribute(res: Response, name: string, attribute: string, value?: string): void {
  const cookie = setCookieOf(res, name);
  expect(cookie).toBeDefined();
  const actual = cookie!.attributes.get(attribute.toLowerCase());
  expect({ attribute, present: actual !== undefined }).toEqual({ attribute, present: true });
  if (value !== undefined) expect(String(actual).toLowerCase()).toBe(value.toLowerCase());
}

/** Asserts the response sets the named cookie without the given attribute. */
export function shouldSetCookieWithoutAttribute(res: Response, name: string, attribute: string): void {
  const cookie = setCookieOf(res, name);
  expect(cookie).toBeDefined();
  expect({ attribute, value: cookie!.attributes.get(attribute.toLowerCase()) }).toEqual({ attribute, value: undefined });
}

/** Asserts the response sends no `Set-Cookie` at all (or, with `name`, none for that cookie). */
export function shouldNotSetCookie(res: Response, name?: string): void {
  const headers = setCookieHeadersOf(res);
  if (name === undefined) expect(headers).toEqual([]);
  else expect(headers.map(parseSetCookie).filter((cookie) => cookie.name === name)).toEqual([]);
}

/** Asserts the response does not hand out a live session cookie (a deletion is fine). */
export function shouldNotIssueSessionCookie(res: Response, name = SESSION_COOKIE): void {
  const cookie = setCookieOf(res, name);
  const issued = cookie === undefined ? 'nothing' : cookie.value === '' && cookie.attributes.get('max-age') === '0' ? 'a deletion' : cookie.raw;
  expect(['nothing', 'a deletion']).toContain(issued);
}

/**
 * Asserts the response deletes the named cookie: empty value, `Max-Age=0`, and the same Path,
 * HttpOnly and SameSite as when it was set (a browser only replaces a cookie whose name, domain
 * and path match).
 */
export function shouldExpireCookie(res: Response, name = SESSION_COOKIE): void {
  const cookie = setCookieOf(res, name);
  expect(cookie).toBeDefined();
  expect(cookie!.value).toBe('');
  expect(cookie!.attributes.get('max-age')).toBe('0');
  const expires = cookie!.attributes.get('expires');
  if (typeof expires === 'string') expect(Date.parse(expires)).toBeLessThanOrEqual(Date.now());
  shouldSetCookieWithAttribute(res, name, 'Path', '/');
  shouldSetCookieWithAttribute(res, name, 'HttpOnly');
  shouldSetCookieWithAttribute(res, name, 'SameSite', 'Lax');
  shouldSetCookieWithoutAttribute(res, name, 'Domain');
}

/**
 * Asserts a session cookie (`name=value` pair) appears nowhere in the response body or its
 * non-cookie headers: not the signed value, not the id, not the signature.
 */
export function shouldNotRevealSessionCookie(res: Response, pair: string): void {
  const value = cookieValueOf(pair);
  const secrets = [value, ...value.split('.')].filter((part) => part.length >= 16);
  const body = res.text ?? (Buffer.isBuffer(res.body) ? res.body.toString('latin1') : JSON.stringify(res.body ?? ''));
  const headers = Object.entries(res.headers)
    .filter(([header]) => header !== 'set-cookie')
    .map(([header, headerValue]) => `${header}: ${String(headerValue)}`)
    .join('\n');
  for (const secret of secrets) {
    expect(body.includes(secret)).toBe(false);
    expect(headers.includes(secret)).toBe(false);
  }
}

import type { INestApplication } from '@nestjs/common';
import type { App } from 'supertest/types';
import request from 'supertest';
import { createExampleApp } from '../support/example-app';
import { HTTP_PLATFORM } from '../support/http-platform';
import { sessionCookieOf, shouldNotIssueSessionCookie } from '../support/cookies';

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

/** Any 4xx: the input was refused without a specific status being part of the contract. */
const ANY_4XX = 'any 4xx' as const;

interface BadBody {
  /** What the body is. */
  readonly label: string;
  readonly contentType: string | undefined;
  readonly body: string | Buffer | undefined;
  readonly status: number | typeof ANY_4XX;
  /** Part of the error message that tells the client what is wrong. */
  readonly message: RegExp;
  readonly headers?: Readonly<Record<string, string>>;
}

const json = (label: string, body: string, status: BadBody['status'], message: RegExp): BadBody => ({
  label: `JSON: ${label}`,
  contentType: JSON_TYPE,
  body,
  status,
  message,
});
const form = (label: string, body: string | Buffer, status: BadBody['status'], message: RegExp): BadBody => ({
  label: `form: ${label}`,
  contentType: FORM,
  body,
  status,
  message,
});

const deepArray = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const deepObject = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const withBytes = (before: string, bytes: number[], after: string): Buffer =>
  Buffer.concat([Buffer.from(before, 'utf8'), Buffer.from(bytes), Buffer.from(after, 'utf8')]);

const REQUIRED = /is required/;
const NOT_A_STRING = /must be a string/;
const NOT_AN_OBJECT = /must be a JSON object or a form/;
const MALFORMED = /Malformed request body/;
const INVALID_CREDENTIALS = /Invalid username or password/;
const CONTROL = /must not contain control characters/;
const UNSUPPORTED = /application\/json or an HTML form/;
// For inputs whose exact 4xx is not part of the contract: any of the app's clear refusals.
const REFUSED = /Invalid username or password|is required|must be|must not|Malformed|too large|Unsupported|application\/json or an HTML form/;

const BAD_BODIES: BadBody[] = [
  // Missing and empty fields.
  json('empty object', '{}', 400, REQUIRED),
  json('no password', '{"username":"alice"}', 400, /password: is required/),
  json('no username', '{"password":"alice-password"}', 400, /username: is required/),
  json('empty strings', '{"username":"","password":""}', 400, REQUIRED),
  json('empty body', '', 400, REQUIRED),
  // Wrong types.
  json('numbers', '{"username":1,"password":2}', 400, NOT_A_STRING),
  json('booleans', '{"username":true,"password":false}', 400, NOT_A_STRING),
  json('nulls', '{"username":null,"password":null}', 400, NOT_A_STRING),
  json('arrays as values', '{"username":["alice"],"password":["alice-password"]}', 400, NOT_A_STRING),
  json('objects as values', '{"username":{"$ne":""},"password":{"$gt":""}}', 400, NOT_A_STRING),
  json('array body', '[{"username":"alice","password":"alice-password"}]', 400, NOT_AN_OBJECT),
  json('empty array body', '[]', 400, NOT_AN_OBJECT),
  json('top-level string', '"alice"', 400, MALFORMED),
  json('top-level number', '42', 400, MALFORMED),
  json('top-level null', 'null', 400, MALFORMED),
  // Malformed JSON.
  json('truncated', '{"username":"alice","password":', 400, MALFORMED),
  json('trailing comma', '{"username":"alice","password":"x",}', 400, MALFORMED),
  json('single quotes', "{'username':'alice','password':'x'}", 400, MALFORMED),
  json('raw form text sent as JSON', 'username=alice&password=alice-password', 400, MALFORMED),
  // Prototype pollution attempts: `__proto__` is an own key after JSON.parse, never a field source.
  json('credentials hidden in __proto__', '{"__proto__":{"username":"alice","password":"alice-password"}}', 400, REQUIRED),
  json('credentials hidden in constructor.prototype', '{"constructor":{"prototype":{"username":"alice","password":"alice-password"}}}', 400, REQUIRED),
  json('__proto__ as the username', '{"username":{"__proto__":{}},"password":"x"}', 400, NOT_A_STRING),
  // Names of Object.prototype members are unknown users like any other, not a lookup hit or a crash.
  json('username "__proto__"', '{"username":"__proto__","password":"alice-password"}', 401, INVALID_CREDENTIALS),
  json('username "constructor"', '{"username":"constructor","password":"alice-password"}', 401, INVALID_CREDENTIALS),
  json('username "hasOwnProperty"', '{"username":"hasOwnProperty","password":"alice-password"}', 401, INVALID_CREDENTIALS),
  // Deep nesting, within the size limit.
  json('5000-deep array as username', `{"username":${deepArray(5000)},"password":"x"}`, 400, NOT_A_STRING),
  json('2000-deep object as username', `{"username":${deepObject(2000)},"password":"x"}`, 400, NOT_A_STRING),
  // Control characters: bcrypt stops at NUL, so "alice-password\0anything" must never reach it.
  json('NUL byte in the password', '{"username":"alice","password":"alice-password\\u0000anything"}', 400, CONTROL),
  json('NUL byte in the username', '{"username":"alice\\u0000","password":"alice-password"}', 400, CONTROL),
  json('newline in the username', '{"username":"alice\\n","password":"alice-password"}', 400, CONTROL),
  // Unicode.
  json('lone high surrogate in the password', '{"username":"alice","password":"\\ud800"}', 400, /password: must be valid Unicode text/),
  json('lone low surrogate in the username', '{"username":"\\udc00alice","password":"x"}', 400, /username: must be valid Unicode text/),
  {
    label: 'JSON: invalid UTF-8 bytes in the password',
    contentType: JSON_TYPE,
    body: withBytes('{"username":"alice","password":"alice-password', [0xff, 0xfe, 0xc3], '"}'),
    status: ANY_4XX,
    message: REFUSED,
  },
  {
    label: 'JSON: invalid UTF-8 bytes in a key',
    contentType: JSON_TYPE,
    body: withBytes('{"user', [0xc3, 0x28], 'name":"alice","password":"alice-password"}'),
    status: ANY_4XX,
    message: REFUSED,
  },
  // Lengths: bcrypt silently ignores bytes after the 72nd, so longer passwords are refused.
  json('username over 64 characters', JSON.stringify({ username: 'a'.repeat(65), password: 'x' }), 400, /username: must be at most 64 characters/),
  json('password of 73 ASCII bytes', JSON.stringify({ username: 'alice', password: 'a'.repeat(73) }), 400, /password: must be at most 72 bytes/),
  json('password of 37 characters but 74 UTF-8 bytes', JSON.stringify({ username: 'alice', password: 'é'.repeat(37) }), 400, /password: must be at most 72 bytes/),
  json('alice-password padded past 72 bytes', JSON.stringify({ username: 'alice', password: `alice-password${' '.repeat(60)}` }), 400, /password: must be at most 72 bytes/),
  json('100 KB body', JSON.stringify({ username: 'alice', password: 'x', padding: 'p'.repeat(100 * 1024) }), 413, /too large/i),
  // Charsets and encodings the parser does not speak.
  { label: 'JSON: latin1 charset', contentType: `${JSON_TYPE}; charset=latin1`, body: '{"username":"alice","password":"x"}', status: 415, message: /charset/i },
  {
    label: 'JSON: unknown Content-Encoding',
    contentType: JSON_TYPE,
    body: '{"username":"alice","password":"x"}',
    headers: { 'Content-Encoding': 'x-unknown' },
    status: 415,
    message: /encoding/i,
  },
  {
    label: 'JSON: gzip Content-Encoding on a body that is not gzip',
    contentType: JSON_TYPE,
    body: '{"username":"alice","password":"x"}',
    headers: { 'Content-Encoding': 'gzip' },
    status: 400,
    message: /Bad request body|Malformed/,
  },

  // Forms.
  form('empty body', '', 400, REQUIRED),
  form('no password', 'username=alice', 400, /password: is required/),
  form('empty values', 'username=&password=', 400, REQUIRED),
  form('duplicated username (array)', 'username=alice&username=admin&password=x', 400, /username: must be a string/),
  form('bracket syntax username[]=', 'username[]=alice&password=x', 400, /username: is required/),
  form('bracket syntax username[a]=', 'username[a]=alice&password[b]=x', 400, REQUIRED),
  form('__proto__ key alone', '__proto__=alice', 400, REQUIRED),
  form('credentials hidden in __proto__[...]', '__proto__[username]=alice&__proto__[password]=alice-password', 400, REQUIRED),
  form('__proto__ next to a wrong password', '__proto__=x&username=alice&password=wrong', 401, INVALID_CREDENTIALS),
  form('constructor[prototype][...] keys', 'constructor[prototype][username]=alice&password=x', 400, /username: is required/),
  form('NUL byte (%00) in the password', 'username=alice&password=alice-password%00anything', 400, CONTROL),
  form('NUL byte (%00) in the username', 'username=alice%00&password=x', 400, CONTROL),
  form('password of 73 bytes', `username=alice&password=${'a'.repeat(73)}`, 400, /at most 72 bytes/),
  form('invalid UTF-8 bytes', withBytes('username=alice&password=alice-password', [0xff, 0xc3], ''), ANY_4XX, REFUSED),
  form('percent-encoded invalid UTF-8 (an encoded lone surrogate)', 'username=alice&password=%ED%A0%80', ANY_4XX, REFUSED),
  form('broken percent escape', 'username=alice&password=%E0%A4%A', ANY_4XX, REFUSED),
  form('too many fields', Array.from({ length: 30 }, (_, index) => `field${index}=x`).join('&'), 413, /Too many form fields/),
  form('100 KB body', `username=alice&password=x&padding=${'p'.repeat(100 * 1024)}`, 413, /too large/i),
  { label: 'form: unknown charset', contentType: `${FORM}; charset=koi8-r`, body: 'username=alice&password=x', status: 415, message: /charset/i },

  // Media types the login does not take.
  { label: 'no body and no Content-Type', contentType: undefined, body: undefined, status: 415, message: UNSUPPORTED },
  { label: 'text/plain', contentType: 'text/plain', body: 'alice:alice-password', status: 415, message: UNSUPPORTED },
  { label: 'XML', contentType: 'application/xml', body: '<login><username>alice</username><password>alice-password</password></login>', status: 415, message: UNSUPPORTED },
  { label: 'XML with an entity bomb', contentType: 'text/xml', body: '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>', status: 415, message: UNSUPPORTED },
  { label: '100 KB XML', contentType: 'application/xml', body: `<x>${'x'.repeat(100 * 1024)}</x>`, status: ANY_4XX, message: REFUSED },
  { label: 'multipart/form-data', contentType: 'multipart/form-data; boundary=b', body: '--b\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n--b--\r\n', status: 415, message: UNSUPPORTED },
  // Fastify refuses a Content-Type header it cannot parse before any route runs, with its own words.
  { label: 'a Content-Type that does not parse', contentType: ';;;', body: 'x', status: 415, message: HTTP_PLATFORM === 'fastify' ? /^Unsupported Media Type$/ : UNSUPPORTED },
];

/** The error message of a 4xx, whether a string or Nest's list of problems. */
function messageOf(res: request.Response): string {
  if (res.headers['content-type']?.startsWith('text/html')) return res.text;
  const message: unknown = (res.body as { message?: unknown } | undefined)?.message;
  return Array.isArray(message) ? message.join('\n') : String(message);
}

describe('POST /login input validation', () => {
  let app: INestApplication;
  let server: App;

  beforeAll(async () => {
    app = await createExampleApp();
    server = app.getHttpServer() as App;
  });

  afterAll(async () => {
    await app.close();
  });

  describe.each(BAD_BODIES)('$label', ({ contentType, body, status, message, headers }) => {
    let res: request.Response;

    beforeAll(async () => {
      let req = request(server).post('/login').set('Accept', 'application/json');
      if (contentType !== undefined) req = req.set('Content-Type', contentType);
      for (const [name, value] of Object.entries(headers ?? {})) req = req.set(name, value);
      // Send the bytes exactly as given: no JSON serialisation of strings or Buffers by superagent.
      if (body !== undefined) req = req.serialize((raw: unknown) => raw as string).send(body as string);
      res = await req;
    });

    it('is refused with a client error, never a server error', () => {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      if (status !== ANY_4XX) expect(res.status).toBe(status);
    });

    it('says what is wrong', () => {
      expect(messageOf(res)).toMatch(message);
      // Error bodies are data, not an Express stack trace page.
      expect(res.text).not.toMatch(/\bat .*\.(js|ts):\d+/);
    });

    it('signs nobody in', () => {
      shouldNotIssueSessionCookie(res);
    });
  });

  it('a password of exactly 72 bytes is accepted for checking (a wrong one is a 401, not a 400)', async () => {
    const res = await request(server).post('/login').send({ username: 'alice', password: 'a'.repeat(72) });

    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ message: 'Invalid username or password' });
  });

  it('extra keys (__proto__, constructor, roles) in a valid JSON login cannot change the signed-in user', async () => {
    const body =
      '{"username":"alice","password":"alice-password","roles":["admin"],' +
      '"__proto__":{"roles":["admin"],"isAdmin":true},"constructor":{"prototype":{"roles":["admin"]}}}';

    const login = await request(server).post('/login').set('Content-Type', JSON_TYPE).send(body);

    expect(login.status).toBe(200);
    expect(login.body).toEqual({ username: 'alice', roles: ['user'] });
    const admin = await request(server).get('/admin').set('Cookie', sessionCookieOf(login)).set('Accept', 'application/json');
    expect(admin.status).toBe(403);
    // Nothing leaked into Object.prototype of the server process.
    expect(({} as Record<string, unknown>).roles).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  describe('unknown user and wrong password are indistinguishable', () => {
    it.each([
      ['JSON', JSON_TYPE, 'application/json'],
      ['form', FORM, 'text/html'],
    ])('%s: same status, same body, same content type', async (_label, type, accept) => {
      const unknownUser = await request(server)
        .post('/login')
        .type(type)
        .set('Accept', accept)
        .send({ username: 'mallory', password: 'alice-password' });
      const wrongPassword = await request(server)
        .post('/login')
        .type(type)
        .set('Accept', accept)
        .send({ username: 'alice', password: 'mallory-password' });

      expect(unknownUser.status).toBe(401);
      expect(wrongPassword.status).toBe(401);
      expect(unknownUser.text).toBe(wrongPassword.text);
      expect(unknownUser.headers['content-type']).toBe(wrongPassword.headers['content-type']);
      expect(unknownUser.headers['set-cookie']).toEqual(wrongPassword.headers['set-cookie']);
      expect(unknownUser.text).not.toContain('mallory');
    });
  });
});

import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { App } from 'supertest/types';
import request from 'supertest';
import { signSessionId } from '@app/session/core/cookie-signer';
import { KeyRing } from '@app/session/core/key-ring';
import { createExampleApp, TEST_SECRET } from '../support/example-app';
import {
  cookieValueOf,
  SESSION_COOKIE,
  sessionCookieOf,
  sessionIdOf,
  shouldNotIssueSessionCookie,
  shouldNotRevealSessionCookie,
  shouldNotSetCookie,
  shouldSetCookieWithAttribute,
  shouldSetCookieWithoutAttribute,
} from '../support/cookies';

/** The suite runs in both modes: SESSION_STORE=cookie selects client-side sessions. */
const CLIENT_SIDE = process.env.SESSION_STORE === 'cookie';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const ALICE = { username: 'alice', password: 'alice-password' } as const;
const ADMIN = { username: 'admin', password: 'admin-password' } as const;
const OTHER_SECRET = 'another-apps-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

/** A value with the exact shape of a signed session cookie, with a random (forged) signature. */
function forgedWellFormedValue(): string {
  return `${randomBytes(32).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
}

/** The same string with the character at `index` replaced by another base64url character. */
function flipCharacter(value: string, index: number): string {
  const replacement = value[index] === 'A' ? 'B' : 'A';
  return `${value.slice(0, index)}${replacement}${value.slice(index + 1)}`;
}

async function logIn(server: App, credentials: { username: string; password: string }): Promise<string> {
  const res = await request(server).post('/login').set('Accept', 'application/json').send(credentials);
  expect(res.status).toBe(200);
  return sessionCookieOf(res);
}

describe('session cookie', () => {
  let app: INestApplication;
  let server: App;
  let aliceCookie: string;

  beforeAll(async () => {
    app = await createExampleApp();
    server = app.getHttpServer() as App;
    aliceCookie = await logIn(server, ALICE);
  });

  afterAll(async () => {
    await app.close();
  });

  describe('attributes on plain http', () => {
    it.each([
      ['a login', () => request(server).post('/login').send(ALICE)],
      ['an anonymous session write', () => request(server).post('/visits')],
    ])('the cookie set by %s is HttpOnly, SameSite=Lax, Path=/, host-only and not Secure', async (_label, send) => {
      const res = await send();

      expect(res.status).toBe(200);
      shouldSetCookieWithAttribute(res, SESSION_COOKIE, 'HttpOnly');
      shouldSetCookieWithAttribute(res, SESSION_COOKIE, 'SameSite', 'Lax');
      shouldSetCookieWithAttribute(res, SESSION_COOKIE, 'Path', '/');
      shouldSetCookieWithoutAttribute(res, SESSION_COOKIE, 'Domain');
      shouldSetCookieWithoutAttribute(res, SESSION_COOKIE, 'Secure');
    });

    it('an X-Forwarded-Proto: https header is ignored without trustProxy (anyone can send it)', async () => {
      const res = await request(server).post('/visits').set('X-Forwarded-Proto', 'https');

      shouldSetCookieWithoutAttribute(res, SESSION_COOKIE, 'Secure');
    });
  });

  describe('behind a trusted proxy (TRUST_PROXY)', () => {
    let proxied: INestApplication;
    let proxiedServer: App;

    beforeAll(async () => {
      proxied = await createExampleApp({ http: { trustProxy: true } });
      proxiedServer = proxied.getHttpServer() as App;
    });

    afterAll(async () => {
      await proxied.close();
    });

    it.each([
      ['a login', () => request(proxiedServer).post('/login').set('X-Forwarded-Proto', 'https').send(ALICE)],
      ['an anonymous session write', () => request(proxiedServer).post('/visits').set('X-Forwarded-Proto', 'https')],
    ])('the cookie set by %s over X-Forwarded-Proto: https is Secure', async (_label, send) => {
      const res = await send();

      expect(res.status).toBe(200);
      shouldSetCookieWithAttribute(res, SESSION_COOKIE, 'Secure');
      shouldSetCookieWithAttribute(res, SESSION_COOKIE, 'HttpOnly');
      shouldSetCookieWithAttribute(res, SESSION_COOKIE, 'SameSite', 'Lax');
      shouldSetCookieWithAttribute(res, SESSION_COOKIE, 'Path', '/');
    });

    it.each([
      ['no X-Forwarded-Proto', undefined],
      ['X-Forwarded-Proto: http', 'http'],
    ])('the cookie is not Secure with %s', async (_label, proto) => {
      const req = request(proxiedServer).post('/visits');
      const res = await (proto === undefined ? req : req.set('X-Forwarded-Proto', proto));

      shouldSetCookieWithoutAttribute(res, SESSION_COOKIE, 'Secure');
    });
  });

  describe('session fixation: login rotates the session id', () => {
    it('a cookie obtained before login (GET /login?returnTo=/x) is replaced at login and never becomes authenticated', async () => {
      const loginPage = await request(server).get('/login?returnTo=/x').set('Accept', BROWSER_ACCEPT);
      expect(loginPage.status).toBe(200);
      const beforeLogin = sessionCookieOf(loginPage);

      const login = await request(server)
        .post('/login')
        .type('form')
        .set('Accept', BROWSER_ACCEPT)
        .set('Cookie', beforeLogin)
        .send(ALICE);

      expect(login.status).toBe(303);
      expect(login.headers.location).toBe('/x'); // the pre-login session was really used
      const afterLogin = sessionCookieOf(login);
      expect(sessionIdOf(afterLogin)).not.toBe(sessionIdOf(beforeLogin));
      const withOldCookie = await request(server).get('/me').set('Cookie', beforeLogin);
      expect(withOldCookie.status).toBe(401);
      const withNewCookie = await request(server).get('/me').set('Cookie', afterLogin);
      expect(withNewCookie.status).toBe(200);
      expect(withNewCookie.body).toEqual({ username: 'alice', roles: ['user'] });
    });

    it('an anonymous session planted by an attacker (a real id from POST /visits) is rotated by a JSON login', async () => {
      const planted = sessionCookieOf(await request(server).post('/visits'));

      const login = await request(server).post('/login').set('Cookie', planted).send(ALICE);

      expect(login.status).toBe(200);
      expect(sessionIdOf(sessionCookieOf(login))).not.toBe(sessionIdOf(planted));
      const attacker = await request(server).get('/me').set('Cookie', planted);
      expect(attacker.status).toBe(401);
    });

    it('a forged cookie presented at login is not adopted', async () => {
      const forged = `${SESSION_COOKIE}=${forgedWellFormedValue()}`;

      const login = await request(server).post('/login').set('Cookie', forged).send(ALICE);

      expect(login.status).toBe(200);
      const issued = sessionCookieOf(login);
      expect(sessionIdOf(issued)).not.toBe(sessionIdOf(forged));
      const attacker = await request(server).get('/me').set('Cookie', forged);
      expect(attacker.status).toBe(401);
    });
  });

  describe('when a cookie is sent', () => {
    it.each([
      ['GET /', '/'],
      ['GET /login', '/login'],
      ['GET /me', '/me'],
      ['GET /articles/create (redirected to login)', '/articles/create'],
      ['GET /admin', '/admin'],
    ])('an anonymous %s sets no cookie (uninitialized sessions are not saved)', async (_label, path) => {
      const res = await request(server).get(path).set('Accept', BROWSER_ACCEPT);

      expect(res.status).toBeLessThan(500);
      shouldNotSetCookie(res);
    });

    it('GET /login with an unsafe returnTo stores nothing and sets no cookie', async () => {
      const res = await request(server).get('/login?returnTo=//evil.com').set('Accept', BROWSER_ACCEPT);

      expect(res.status).toBe(200);
      shouldNotSetCookie(res);
    });

    it('an unchanged logged-in session answers without Set-Cookie', async () => {
      for (const path of ['/me', '/me', '/', '/articles/create']) {
        const res = await request(server).get(path).set('Cookie', aliceCookie).set('Accept', path === '/me' ? 'application/json' : BROWSER_ACCEPT);
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        shouldNotSetCookie(res);
      }
    });

    if (CLIENT_SIDE) {
      it('a changed session is re-sealed into a new cookie (client-side: the cookie is the data)', async () => {
        const first = await request(server).post('/visits');
        const second = await request(server).post('/visits').set('Cookie', sessionCookieOf(first));
        expect(second.body).toEqual({ visits: 2 });
        const third = await request(server).post('/visits').set('Cookie', sessionCookieOf(second));
        expect(third.body).toEqual({ visits: 3 });
      });
    } else {
      it('a changed session keeps its id (no new cookie is needed when only the data changes)', async () => {
        const first = await request(server).post('/visits');
        const cookie = sessionCookieOf(first);

        const second = await request(server).post('/visits').set('Cookie', cookie);

        expect(second.body).toEqual({ visits: 2 });
        shouldNotIssueSessionCookie(second);
      });
    }
  });

  describe('tampered, forged and garbage cookies never authenticate and never cause a 5xx', () => {
    const valid = (): string => cookieValueOf(aliceCookie);
    // Cases that take the server-side `id.signature` format apart; a sealed client-side value has
    // no such parts (its own tampering cases are in core/cookie-sealer.spec.ts, every byte).
    const serverFormatCases: Array<[string, () => string]> = [
      ['the id without its signature', () => `sid=${valid().split('.')[0]}`],
      ['the id with an empty signature', () => `sid=${valid().split('.')[0]}.`],
      ['the signature alone', () => `sid=${valid().split('.')[1]}`],
      ['id and signature swapped', () => `sid=${valid().split('.').reverse().join('.')}`],
      ['a percent-encoded dot', () => `sid=${valid().replace('.', '%2E')}`],
    ];
    const cases: Array<[string, () => string]> = [
      ...(CLIENT_SIDE ? [] : serverFormatCases),
      ['sid=garbage', () => 'sid=garbage'],
      ['an empty sid=', () => 'sid='],
      ['a flipped character at position 60', () => `sid=${flipCharacter(valid(), 60)}`],
      ['a flipped character at position 10', () => `sid=${flipCharacter(valid(), 10)}`],
      ['a flipped last character', () => `sid=${flipCharacter(valid(), valid().length - 1)}`],
      ['a forged well-formed value', () => `sid=${forgedWellFormedValue()}`],
      ['the real id re-signed with another secret', () => `sid=${signSessionId(sessionIdOf(aliceCookie), KeyRing.fromSecrets([OTHER_SECRET]))}`],
      ['sid=a; sid=b', () => 'sid=a; sid=b'],
      ['two forged values', () => `sid=${forgedWellFormedValue()}; sid=${forgedWellFormedValue()}`],
      ['a quoted value', () => `sid="${valid()}"`],
      ['the value fully percent-encoded', () => `sid=${[...valid()].map((char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`).join('')}`],
      ['base64 padding appended', () => `sid=${valid()}=`],
      ['junk appended', () => `sid=${valid()}x`],
      ['a prefix of the value', () => `sid=${valid().slice(0, -1)}`],
      ['the value upper-cased', () => `sid=${valid().toUpperCase()}`],
      ['the right value under another name (Sid)', () => `Sid=${valid()}`],
      ['the right value under another name (sid2)', () => `sid2=${valid()}`],
      ['an 8 KB cookie', () => `sid=${'a'.repeat(8 * 1024)}`],
      ['100 forged sid cookies', () => Array.from({ length: 100 }, () => `sid=${forgedWellFormedValue()}`).join('; ')],
      ['100 unrelated cookies', () => Array.from({ length: 100 }, (_, index) => `c${index}=${index}`).join('; ')],
      ['__proto__=1', () => '__proto__=1'],
      ['constructor=1', () => 'constructor=1'],
      ['__proto__ carrying the real value', () => `__proto__=${valid()}`],
      ['sid=__proto__', () => 'sid=__proto__'],
      ['no name, only a value', () => valid()],
      ['only separators', () => ';;; ;=; =;'],
      ['tab and non-ASCII bytes', () => 'sid=\t\u00ff\u0080'],
    ];

    it('control: the untampered cookie authenticates (server-side: re-signing its id with the app secret reproduces it)', async () => {
      const res = await request(server).get('/me').set('Cookie', aliceCookie);
      expect(res.status).toBe(200);
      if (!CLIENT_SIDE) expect(signSessionId(sessionIdOf(aliceCookie), KeyRing.fromSecrets([TEST_SECRET]))).toBe(valid());
    });

    it.each(cases)('%s', async (_label, cookieHeader) => {
      const header = cookieHeader();

      const me = await request(server).get('/me').set('Cookie', header).set('Accept', 'application/json');
      const home = await request(server).get('/').set('Cookie', header).set('Accept', BROWSER_ACCEPT);

      expect(me.status).toBe(401);
      shouldNotIssueSessionCookie(me);
      expect(home.status).toBe(200);
      expect(home.text).toContain('You are not signed in');
      shouldNotIssueSessionCookie(home);
    });

    it('two different valid sessions in one Cookie header authenticate neither (cookie tossing)', async () => {
      const adminCookie = await logIn(server, ADMIN);

      for (const header of [`${aliceCookie}; ${adminCookie}`, `${adminCookie}; ${aliceCookie}`]) {
        const res = await request(server).get('/me').set('Cookie', header).set('Accept', 'application/json');
        expect({ header, status: res.status }).toEqual({ header, status: 401 });
      }
    });
  });

  describe('the session id stays in the cookie', () => {
    it('?sid=<valid value> in the URL is ignored', async () => {
      const value = cookieValueOf(aliceCookie);

      for (const query of [`sid=${value}`, `sid=${encodeURIComponent(aliceCookie)}`, `cookie=${encodeURIComponent(aliceCookie)}`]) {
        const res = await request(server).get(`/me?${query}`).set('Accept', 'application/json');
        expect({ query, status: res.status }).toEqual({ query, status: 401 });
      }
    });

    it('the session id never appears in a response body or a non-cookie header', async () => {
      const browser = request.agent(server);
      const seenCookies: string[] = [];
      const responses: request.Response[] = [];
      const record = (res: request.Response): request.Response => {
        responses.push(res);
        const cookie = res.headers['set-cookie'] === undefined ? undefined : sessionCookieOrNothing(res);
        if (cookie) seenCookies.push(cookie);
        return res;
      };

      record(await browser.post('/visits'));
      record(await browser.get('/login?returnTo=%2Farticles%2Fcreate').set('Accept', BROWSER_ACCEPT));
      record(await browser.post('/login').type('form').set('Accept', BROWSER_ACCEPT).send(ALICE));
      record(await browser.get('/articles/create').set('Accept', BROWSER_ACCEPT));
      record(await browser.get('/').set('Accept', BROWSER_ACCEPT));
      record(await browser.get('/me').set('Accept', 'application/json'));
      record(await browser.get('/admin').set('Accept', 'application/json'));
      record(await browser.get('/login').set('Accept', BROWSER_ACCEPT));
      record(await browser.post('/visits'));
      record(await browser.post('/login').set('Accept', 'application/json').send(ADMIN));
      record(await browser.get('/admin').set('Accept', BROWSER_ACCEPT));
      record(await browser.post('/logout').set('Accept', 'application/json').send({}));

      expect(seenCookies.length).toBeGreaterThanOrEqual(3); // anonymous, form login, JSON login
      for (const res of responses) {
        for (const cookie of seenCookies) shouldNotRevealSessionCookie(res, cookie);
      }
    });
  });
});

/** The live session cookie a response set, or undefined when it set none or only deleted it. */
function sessionCookieOrNothing(res: request.Response): string | undefined {
  const raw = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((header) => header.startsWith(`${SESSION_COOKIE}=`));
  if (!raw || raw.startsWith(`${SESSION_COOKIE}=;`)) return undefined;
  return sessionCookieOf(res);
}

import type { INestApplication } from '@nestjs/common';
import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from 'supertest/types';
import request from 'supertest';
import { createExampleApp } from '../support/example-app';
import {
  sessionCookieOf,
  sessionIdOf,
  shouldExpireCookie,
  shouldNotIssueSessionCookie,
  shouldNotRevealSessionCookie,
  shouldNotSetCookie,
  shouldSetCookie,
} from '../support/cookies';

// What a browser sends when it navigates to a page.
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const ALICE = { username: 'alice', password: 'alice-password' } as const;
const ADMIN = { username: 'admin', password: 'admin-password' } as const;
const SITE = 'http://example-app.test';

type Agent = ReturnType<typeof request.agent>;

/** Asserts a redirect stays on this site: a same-origin path, never another origin or scheme. */
function shouldRedirectWithinSite(res: request.Response): string {
  expect(res.status).toBe(303);
  const location = String(res.headers.location);
  expect(location.startsWith('/')).toBe(true);
  expect(location.startsWith('//')).toBe(false);
  expect(location.startsWith('/\\')).toBe(false);
  expect(new URL(location, SITE).origin).toBe(SITE);
  return location;
}

/** Submits the login form as a browser does. */
function submitLoginForm(client: Agent, credentials: { username: string; password: string }) {
  return client.post('/login').type('form').set('Accept', BROWSER_ACCEPT).send(credentials);
}

describe('auth flow', () => {
  let app: INestApplication;
  let server: App;

  beforeAll(async () => {
    app = await createExampleApp();
    server = app.getHttpServer() as App;
  });

  afterAll(async () => {
    await app.close();
  });

  describe('anonymous visitor', () => {
    it('home page says nobody is signed in, links to login and the protected page, has no logout form, and sets no cookie', async () => {
      const res = await request(server).get('/').set('Accept', BROWSER_ACCEPT);

      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('You are not signed in');
      expect(res.text).toContain('href="/login"');
      expect(res.text).toContain('href="/articles/create"');
      expect(res.text).not.toContain('action="/logout"');
      shouldNotSetCookie(res);
    });

    it('login page is an HTML form posting username and a password-type password to /login', async () => {
      const res = await request(server).get('/login').set('Accept', BROWSER_ACCEPT);

      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toMatch(/<form[^>]*method="post"[^>]*action="\/login"/);
      expect(res.text).toMatch(/<input[^>]*name="username"/);
      expect(res.text).toMatch(/<input(?=[^>]*name="password")(?=[^>]*type="password")[^>]*>/);
    });

    it('GET /me is 401 JSON', async () => {
      const res = await request(server).get('/me').set('Accept', 'application/json');

      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({ statusCode: 401 });
    });

    it('a page request to /articles/create is redirected (303) to the login page with returnTo', async () => {
      const res = await request(server).get('/articles/create').set('Accept', BROWSER_ACCEPT);

      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/login?returnTo=%2Farticles%2Fcreate');
    });

    it.each([
      ['Accept: application/json', 'application/json'],
      ['Accept: */*', '*/*'],
      ['no Accept header', undefined],
      ['JSON preferred over HTML', 'text/html;q=0.5, application/json'],
    ])('an API request to /articles/create (%s) is 401 JSON, not a redirect', async (_label, accept) => {
      const req = request(server).get('/articles/create');
      const res = await (accept === undefined ? req.unset('Accept') : req.set('Accept', accept));

      expect(res.status).toBe(401);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({ statusCode: 401 });
    });

    it.each([
      ['an API request', 'application/json'],
      ['a page request', BROWSER_ACCEPT],
    ])('%s to /admin is refused with 401 or a redirect to login', async (_label, accept) => {
      const res = await request(server).get('/admin').set('Accept', accept);

      expect([401, 303]).toContain(res.status);
      if (res.status === 303) expect(res.headers.location).toBe('/login?returnTo=%2Fadmin');
      expect(res.text).not.toContain('Only users with the');
    });
  });

  describe('browser-like flow with a cookie-keeping client', () => {
    it('protected page → login form → form login → back on the protected page → home → logout → anonymous again', async () => {
      const browser = request.agent(server);

      const protectedPage = await browser.get('/articles/create').set('Accept', BROWSER_ACCEPT);
      expect(protectedPage.status).toBe(303);
      const loginUrl = String(protectedPage.headers.location);
      expect(loginUrl).toBe('/login?returnTo=%2Farticles%2Fcreate');

      const loginPage = await browser.get(loginUrl).set('Accept', BROWSER_ACCEPT);
      expect(loginPage.status).toBe(200);
      expect(loginPage.text).toContain('action="/login"');
      // Remembering the return url needs a session, hence a cookie.
      shouldSetCookie(loginPage);

      const login = await submitLoginForm(browser, ALICE);
      expect(login.status).toBe(303);
      expect(login.headers.location).toBe('/articles/create');
      const sessionCookie = sessionCookieOf(login);
      shouldNotRevealSessionCookie(login, sessionCookie);

      const landed = await browser.get(String(login.headers.location)).set('Accept', BROWSER_ACCEPT);
      expect(landed.status).toBe(200);
      expect(landed.text).toContain('Only signed-in users see this page.');
      expect(landed.text).toContain('Signed in as <strong>alice</strong>');

      const home = await browser.get('/').set('Accept', BROWSER_ACCEPT);
      expect(home.status).toBe(200);
      expect(home.text).toContain('Welcome back, <strong>alice</strong>');
      expect(home.text).toContain('href="/articles/create"');
      expect(home.text).toContain('href="/admin"');
      expect(home.text).toMatch(/<form method="post" action="\/logout">/);
      expect(home.text).not.toContain('You are not signed in');

      const me = await browser.get('/me').set('Accept', 'application/json');
      expect(me.status).toBe(200);
      expect(me.body).toEqual({ username: 'alice', roles: ['user'] });

      // The logout button of the page: an empty form post. The signed-in session is gone; a new,
      // anonymous one (another id) carries the "signed out" message to the login page, once.
      const logout = await browser.post('/logout').type('form').set('Accept', BROWSER_ACCEPT).send('');
      expect(logout.status).toBe(303);
      expect(logout.headers.location).toBe('/login');
      const afterLogout = sessionCookieOf(logout);
      expect(sessionIdOf(afterLogout)).not.toBe(sessionIdOf(sessionCookie));
      const oldCookieMe = await request(server).get('/me').set('Cookie', sessionCookie).set('Accept', 'application/json');
      expect(oldCookieMe.status).toBe(401);
      const loginAfter = await browser.get('/login').set('Accept', BROWSER_ACCEPT);
      expect(loginAfter.text).toContain('You have been signed out.');
      expect((await browser.get('/login').set('Accept', BROWSER_ACCEPT)).text).not.toContain('You have been signed out.');

      const meAfter = await browser.get('/me').set('Accept', 'application/json');
      expect(meAfter.status).toBe(401);
      const homeAfter = await browser.get('/').set('Accept', BROWSER_ACCEPT);
      expect(homeAfter.text).toContain('You are not signed in');
      expect(homeAfter.text).not.toContain('action="/logout"');
      const protectedAfter = await browser.get('/articles/create').set('Accept', BROWSER_ACCEPT);
      expect(protectedAfter.status).toBe(303);
    });

    it('a form login with no remembered page lands on /', async () => {
      const browser = request.agent(server);
      await browser.get('/login').set('Accept', BROWSER_ACCEPT).expect(200);

      const login = await submitLoginForm(browser, ALICE);

      expect(login.status).toBe(303);
      expect(login.headers.location).toBe('/');
    });

    it('the query string of the protected page survives the round trip through login', async () => {
      const browser = request.agent(server);

      const protectedPage = await browser.get('/articles/create?draft=1').set('Accept', BROWSER_ACCEPT);
      expect(protectedPage.status).toBe(303);
      const loginUrl = String(protectedPage.headers.location);
      expect(new URL(loginUrl, SITE).searchParams.get('returnTo')).toBe('/articles/create?draft=1');
      await browser.get(loginUrl).set('Accept', BROWSER_ACCEPT).expect(200);

      const login = await submitLoginForm(browser, ALICE);

      expect(login.status).toBe(303);
      expect(login.headers.location).toBe('/articles/create?draft=1');
      const landed = await browser.get(String(login.headers.location)).set('Accept', BROWSER_ACCEPT);
      expect(landed.status).toBe(200);
    });

    it('a wrong password re-renders the form with 401, and the browser stays anonymous', async () => {
      const browser = request.agent(server);

      const login = await submitLoginForm(browser, { username: 'alice', password: 'not-alices-password' });

      expect(login.status).toBe(401);
      expect(login.headers['content-type']).toMatch(/^text\/html/);
      expect(login.text).toContain('Invalid username or password');
      expect(login.text).toContain('action="/login"');
      shouldNotIssueSessionCookie(login);
      const me = await browser.get('/me').set('Accept', 'application/json');
      expect(me.status).toBe(401);
    });

    it('a wrong password keeps the remembered page: the next, correct attempt still lands on it', async () => {
      const browser = request.agent(server);
      await browser.get('/login?returnTo=%2Farticles%2Fcreate').set('Accept', BROWSER_ACCEPT).expect(200);

      const failed = await submitLoginForm(browser, { username: 'alice', password: 'typo' });
      const login = await submitLoginForm(browser, ALICE);

      expect(failed.status).toBe(401);
      expect(login.status).toBe(303);
      expect(login.headers.location).toBe('/articles/create');
    });

    it.each([
      ['a Latin-1 letter', '/articles/café', '/articles/caf%C3%A9'],
      ['letters beyond Latin-1', '/articles/日本?q=東京', '/articles/%E6%97%A5%E6%9C%AC?q=%E6%9D%B1%E4%BA%AC'],
      ['a path already percent-encoded (not encoded twice)', '/articles/caf%C3%A9', '/articles/caf%C3%A9'],
    ])('a remembered page with %s is sent back percent-encoded in Location', async (_, remembered, location) => {
      const browser = request.agent(server);
      await browser.get(`/login?returnTo=${encodeURIComponent(remembered)}`).set('Accept', BROWSER_ACCEPT).expect(200);

      const login = await submitLoginForm(browser, ALICE);

      expect(login.status).toBe(303);
      expect(login.headers.location).toBe(location);
    });

    it('a wrong password in the form gets the login page again with 401, not cached, the form filled in for a retry', async () => {
      const failed = await submitLoginForm(request.agent(server), { username: 'alice', password: 'typo' });

      expect(failed.status).toBe(401);
      expect(failed.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(failed.headers['cache-control']).toBe('no-store');
      expect(failed.text).toContain('Invalid username or password');
      expect(failed.text).toContain('<form method="post" action="/login">');
    });

    it('after logout, a replayed copy of the old cookie is dead server-side and is not revived by new writes', async () => {
      const browser = request.agent(server);
      const login = await submitLoginForm(browser, ALICE);
      const oldCookie = sessionCookieOf(login);
      await browser.post('/logout').type('form').set('Accept', BROWSER_ACCEPT).send('').expect(303);

      const replayedMe = await request(server).get('/me').set('Cookie', oldCookie).set('Accept', 'application/json');
      expect(replayedMe.status).toBe(401);
      const replayedPage = await request(server).get('/articles/create').set('Cookie', oldCookie).set('Accept', 'application/json');
      expect(replayedPage.status).toBe(401);

      // Writing to the session through the old cookie starts a fresh anonymous session instead.
      const replayedWrite = await request(server).post('/visits').set('Cookie', oldCookie);
      expect(replayedWrite.status).toBe(200);
      expect(replayedWrite.body).toEqual({ visits: 1 });
      const freshCookie = sessionCookieOf(replayedWrite);
      expect(freshCookie).not.toBe(oldCookie);
      const stillDead = await request(server).get('/me').set('Cookie', oldCookie).set('Accept', 'application/json');
      expect(stillDead.status).toBe(401);
    });
  });

  describe('open redirect: unsafe returnTo values end on this site after login', () => {
    const longPath = `/${'a'.repeat(5000)}`;
    const cases: Array<[string, string]> = [
      ['protocol-relative //evil.com', 'returnTo=//evil.com'],
      ['protocol-relative, percent-encoded', 'returnTo=%2F%2Fevil.com'],
      ['backslash /\\evil.com', `returnTo=${encodeURIComponent('/\\evil.com')}`],
      ['double backslash \\\\evil.com', `returnTo=${encodeURIComponent('\\\\evil.com')}`],
      ['absolute https://evil.com', `returnTo=${encodeURIComponent('https://evil.com')}`],
      ['scheme-relative https:evil.com', `returnTo=${encodeURIComponent('https:evil.com')}`],
      ['/%2F%2Fevil (decoded once by the query parser)', 'returnTo=/%2F%2Fevil'],
      ['/%2F%2Fevil (literally, encoded twice)', `returnTo=${encodeURIComponent('/%2F%2Fevil')}`],
      ['tab trick /\\t/evil.com', `returnTo=${encodeURIComponent('/\t/evil.com')}`],
      ['javascript:alert(1)', `returnTo=${encodeURIComponent('javascript:alert(1)')}`],
      ['over-long path (5000 chars)', `returnTo=${longPath}`],
      ['duplicated returnTo (safe then unsafe)', 'returnTo=/articles/create&returnTo=//evil.com'],
      ['duplicated returnTo (unsafe then safe)', 'returnTo=//evil.com&returnTo=/articles/create'],
      ['array syntax returnTo[]=', 'returnTo[]=//evil.com'],
      ['array syntax returnTo[]= with a safe path', 'returnTo[]=/articles/create'],
      ['object syntax returnTo[x]=', 'returnTo[x]=//evil.com'],
    ];

    it.each(cases)('%s', async (_label, query) => {
      const browser = request.agent(server);
      const loginPage = await browser.get(`/login?${query}`).set('Accept', BROWSER_ACCEPT);
      expect(loginPage.status).toBe(200);

      const login = await submitLoginForm(browser, ALICE);

      const location = shouldRedirectWithinSite(login);
      expect(location.length).toBeLessThanOrEqual(2048);
      const landed = await browser.get(location).set('Accept', BROWSER_ACCEPT);
      expect(landed.status).toBeLessThan(500);
    });

    it('an absolute-form request target (GET http://evil.com/articles/create) never becomes the return url', async () => {
      // supertest always sends origin-form targets, so this needs a raw request on a listening server.
      const listening = await createExampleApp();
      try {
        const httpServer = listening.getHttpServer() as Server;
        await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
        const { port } = httpServer.address() as AddressInfo;
        const res = await new Promise<IncomingMessage>((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port, method: 'GET', path: 'http://evil.com/articles/create', headers: { Accept: BROWSER_ACCEPT } }, resolve);
          req.on('error', reject);
          req.end();
        });
        res.resume();

        expect(res.statusCode).toBe(303);
        const location = String(res.headers.location);
        expect(new URL(location, SITE).origin).toBe(SITE);
        expect(new URL(location, SITE).pathname).toBe('/login');
        const returnTo = new URL(location, SITE).searchParams.get('returnTo');
        if (returnTo !== null) expect(new URL(returnTo, SITE).origin).toBe(SITE);
      } finally {
        await listening.close();
      }
    });

    it('an unsafe returnTo does not replace a safe one remembered earlier', async () => {
      const browser = request.agent(server);
      await browser.get('/login?returnTo=%2Farticles%2Fcreate').set('Accept', BROWSER_ACCEPT).expect(200);
      await browser.get('/login?returnTo=//evil.com').set('Accept', BROWSER_ACCEPT).expect(200);

      const login = await submitLoginForm(browser, ALICE);

      expect(shouldRedirectWithinSite(login)).toBe('/articles/create');
    });
  });

  describe('JSON clients', () => {
    it('login returns { username, roles } with 200 (no redirect, no session id), /me answers, logout is 204 and ends the session', async () => {
      const login = await request(server).post('/login').set('Accept', 'application/json').send(ALICE);

      expect(login.status).toBe(200);
      expect(login.headers['content-type']).toMatch(/^application\/json/);
      expect(login.body).toEqual({ username: 'alice', roles: ['user'] });
      const cookie = sessionCookieOf(login);
      shouldNotRevealSessionCookie(login, cookie);

      const me = await request(server).get('/me').set('Cookie', cookie).set('Accept', 'application/json');
      expect(me.status).toBe(200);
      expect(me.body).toEqual({ username: 'alice', roles: ['user'] });

      const logout = await request(server).post('/logout').set('Cookie', cookie).set('Accept', 'application/json').send({});
      expect(logout.status).toBe(204);
      expect(logout.text).toBe('');
      shouldExpireCookie(logout);

      const replay = await request(server).get('/me').set('Cookie', cookie).set('Accept', 'application/json');
      expect(replay.status).toBe(401);
    });

    it('a JSON login answers JSON even when a return url is remembered', async () => {
      const browser = request.agent(server);
      await browser.get('/login?returnTo=%2Farticles%2Fcreate').expect(200);

      const login = await browser.post('/login').set('Accept', 'application/json').send(ALICE);

      expect(login.status).toBe(200);
      expect(login.headers.location).toBeUndefined();
      expect(login.body).toEqual({ username: 'alice', roles: ['user'] });
    });

    it('a wrong password is 401 JSON and sets no session', async () => {
      const login = await request(server).post('/login').set('Accept', 'application/json').send({ username: 'alice', password: 'wrong' });

      expect(login.status).toBe(401);
      expect(login.body).toMatchObject({ statusCode: 401, message: 'Invalid username or password' });
      shouldNotIssueSessionCookie(login);
    });
  });

  describe('roles', () => {
    let aliceCookie: string;
    let adminCookie: string;

    beforeAll(async () => {
      aliceCookie = sessionCookieOf(await request(server).post('/login').send(ALICE).expect(200));
      adminCookie = sessionCookieOf(await request(server).post('/login').send(ADMIN).expect(200));
    });

    it('alice (role user) may write articles', async () => {
      const res = await request(server).get('/articles/create').set('Cookie', aliceCookie).set('Accept', BROWSER_ACCEPT);

      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    });

    it.each([
      ['an API request', 'application/json'],
      ['a page request', BROWSER_ACCEPT],
    ])('alice (role user) gets 403 on /admin for %s', async (_label, accept) => {
      const res = await request(server).get('/admin').set('Cookie', aliceCookie).set('Accept', accept);

      expect(res.status).toBe(403);
      expect(res.text).not.toContain('Only users with the');
    });

    it('admin (role admin) gets the admin page', async () => {
      const res = await request(server).get('/admin').set('Cookie', adminCookie).set('Accept', BROWSER_ACCEPT);

      expect(res.status).toBe(200);
      expect(res.text).toContain('Only users with the <code>admin</code> role see this page.');
    });

    it('/me reports each user with their roles', async () => {
      const alice = await request(server).get('/me').set('Cookie', aliceCookie);
      const admin = await request(server).get('/me').set('Cookie', adminCookie);

      expect(alice.body).toEqual({ username: 'alice', roles: ['user'] });
      expect(admin.body).toEqual({ username: 'admin', roles: ['admin'] });
    });

    it('logging in again as another user switches account (and rotates the session id)', async () => {
      const browser = request.agent(server);
      const asAlice = await submitLoginForm(browser, ALICE);
      const asAdmin = await submitLoginForm(browser, ADMIN);

      expect(sessionCookieOf(asAdmin)).not.toBe(sessionCookieOf(asAlice));
      const me = await browser.get('/me');
      expect(me.body).toEqual({ username: 'admin', roles: ['admin'] });
      const oldAlice = await request(server).get('/me').set('Cookie', sessionCookieOf(asAlice));
      expect(oldAlice.status).toBe(401);
    });
  });

  describe('visits counter', () => {
    it('counts per session, for anonymous visitors too', async () => {
      const first = request.agent(server);
      const second = request.agent(server);

      const one = await first.post('/visits');
      const two = await first.post('/visits');
      const other = await second.post('/visits');

      expect(one.status).toBe(200);
      expect(one.body).toEqual({ visits: 1 });
      shouldSetCookie(one);
      expect(two.body).toEqual({ visits: 2 });
      expect(other.body).toEqual({ visits: 1 });
    });
  });

  describe('flash message', () => {
    it('says "Signed in" once, on the page the login form redirects to', async () => {
      const browser = request.agent(server);
      const login = await submitLoginForm(browser, ALICE);
      expect(login.status).toBe(303);
      const landing = await browser.get(login.headers.location).set('Accept', BROWSER_ACCEPT);
      expect(landing.status).toBe(200);
      expect(landing.text).toContain('role="status">Signed in as alice</p>');

      const reload = await browser.get(login.headers.location).set('Accept', BROWSER_ACCEPT);
      expect(reload.status).toBe(200);
      expect(reload.text).not.toContain('Signed in as alice</p>');
    });

    it('adds no flash message to a JSON login', async () => {
      const browser = request.agent(server);
      const login = await browser.post('/login').set('Accept', 'application/json').send(ALICE);
      expect(login.status).toBe(200);
      const home = await browser.get('/').set('Accept', BROWSER_ACCEPT);
      expect(home.text).not.toContain('class="flash');
    });
  });
});

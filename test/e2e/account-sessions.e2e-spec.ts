import request from 'supertest';
import type { App } from 'supertest/types';
import { hashSessionId, SessionService } from '@app/session';
import { sessionCookieOf, shouldNotIssueSessionCookie } from '../support/cookies';
import {
  ADMIN,
  ALICE,
  BROWSER_ACCEPT,
  shouldNotAuthenticate,
  startExampleApp,
  whoAmI,
  type Credentials,
  type RunningApp,
} from '../security/support';

/**
 * The example's "Your sessions" pages (GET /account/sessions, POST /account/sessions/:id/revoke,
 * POST /account/sessions/revoke-others) over the real app, on whichever store SESSION_STORE
 * names (npm run test:example-stores runs it on each, and in client-side mode). memcached cannot
 * list sessions per user: its run checks the pages say so instead.
 */

// memcached and express-session stores cannot list sessions per user.
const LISTS_SESSIONS = !['memcached', 'connect-redis', 'connect-pg-simple'].includes(process.env.SESSION_STORE ?? '');
const LAPTOP = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0 laptop';
const PHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Safari/604.1 phone';

interface ListedSession {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  userAgent: string | null;
  current: boolean;
}

/** Signs in with the JSON API from a device (its User-Agent); the cookie it got. */
async function signIn(server: App, credentials: Credentials, userAgent: string): Promise<string> {
  const res = await request(server).post('/login').set('Accept', 'application/json').set('User-Agent', userAgent).send(credentials);
  expect(res.status).toBe(200);
  return sessionCookieOf(res);
}

function listAsJson(server: App, cookie: string): request.Test {
  return request(server).get('/account/sessions').set('Cookie', cookie).set('Accept', 'application/json');
}

function postForm(server: App, path: string, cookie: string): request.Test {
  return request(server).post(path).set('Cookie', cookie).type('form').set('Accept', BROWSER_ACCEPT).send('');
}

function postJson(server: App, path: string, cookie: string): request.Test {
  return request(server).post(path).set('Cookie', cookie).set('Accept', 'application/json').send({});
}

/** The session id inside a cookie pair, as the server sees it (signed cookies only). */
function sessionIdIn(pair: string): string {
  const value = decodeURIComponent(pair.slice(pair.indexOf('=') + 1));
  return value.split('.')[0];
}

describe('example app: your sessions', () => {
  let running: RunningApp;
  let server: App;

  beforeAll(async () => {
    running = await startExampleApp();
    server = running.server;
  });

  afterAll(async () => {
    await running.app.close();
  });

  it('sends an anonymous browser to the login form and back, and gives an API client 401', async () => {
    const page = await request(server).get('/account/sessions').set('Accept', BROWSER_ACCEPT);
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/login?returnTo=%2Faccount%2Fsessions');
    const api = await request(server).get('/account/sessions').set('Accept', 'application/json');
    expect(api.status).toBe(401);
    for (const path of ['/account/sessions/revoke-others', '/account/sessions/anything/revoke']) {
      expect((await request(server).post(path).set('Accept', 'application/json').send({})).status).toBe(401);
    }
  });

  if (!LISTS_SESSIONS) {
    it('says the store cannot list sessions: a notice on the page, 501 for JSON', async () => {
      const cookie = await signIn(server, ALICE, LAPTOP);
      const page = await request(server).get('/account/sessions').set('Cookie', cookie).set('Accept', BROWSER_ACCEPT);
      expect(page.status).toBe(200);
      expect(page.text).toContain('cannot list sessions per user');
      const api = await listAsJson(server, cookie);
      expect(api.status).toBe(501);
      expect(api.body.message).toContain('cannot list sessions per user');
      expect((await postJson(server, '/account/sessions/revoke-others', cookie)).status).toBe(501);
      const form = await postForm(server, '/account/sessions/revoke-others', cookie);
      expect(form.status).toBe(303);
      expect(form.headers.location).toBe('/account/sessions');
      expect((await whoAmI(server, cookie)).status).toBe(200);
    });
    return;
  }

  beforeEach(async () => {
    // Sessions of earlier tests (and of other suites sharing this store) start each test afresh.
    const sessions = running.app.get(SessionService);
    await sessions.revokeAllForUser(ALICE.username);
    await sessions.revokeAllForUser(ADMIN.username);
  });

  it('lists the user\'s devices as JSON: { id, createdAt, lastSeenAt, userAgent, current }, oldest first', async () => {
    const laptop = await signIn(server, ALICE, LAPTOP);
    const phone = await signIn(server, ALICE, PHONE);
    await signIn(server, ADMIN, LAPTOP);

    const res = await listAsJson(server, phone);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const list = res.body as ListedSession[];
    expect(list.map((entry) => Object.keys(entry).sort())).toEqual([
      ['createdAt', 'current', 'id', 'lastSeenAt', 'userAgent'],
      ['createdAt', 'current', 'id', 'lastSeenAt', 'userAgent'],
    ]);
    expect(list.map((entry) => [entry.userAgent, entry.current])).toEqual([
      [LAPTOP, false],
      [PHONE, true],
    ]);
    for (const entry of list) {
      expect(new Date(entry.createdAt).toISOString()).toBe(entry.createdAt);
      expect(new Date(entry.lastSeenAt).toISOString()).toBe(entry.lastSeenAt);
      expect(entry.id).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    // The id is an opaque handle: neither session id nor store key shows through.
    for (const cookie of [laptop, phone]) {
      const id = sessionIdIn(cookie);
      for (const entry of list) {
        expect(entry.id).not.toContain(id);
        expect(entry.id).not.toContain(hashSessionId(id));
      }
    }
    // The same from the other device, with `current` moved; ids are stable.
    const fromLaptop = (await listAsJson(server, laptop)).body as ListedSession[];
    expect(fromLaptop.map((entry) => [entry.id, entry.current])).toEqual([
      [list[0].id, true],
      [list[1].id, false],
    ]);
  });

  it('shows the devices on an HTML page, escaped, with a button per device and "sign out everywhere else"', async () => {
    const hostile = '<script>alert(1)</script> "quoted" device';
    await signIn(server, ALICE, hostile);
    const phone = await signIn(server, ALICE, PHONE);
    const [other] = ((await listAsJson(server, phone)).body as ListedSession[]).filter((entry) => !entry.current);

    const page = await request(server).get('/account/sessions').set('Cookie', phone).set('Accept', BROWSER_ACCEPT);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<h1>Your sessions</h1>');
    expect(page.text).toContain(PHONE);
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; device');
    expect(page.text).not.toContain('<script>alert(1)</script>');
    expect(page.text).toContain('This device');
    expect(page.text).toContain(`action="/account/sessions/${other.id}/revoke"`);
    expect(page.text).toContain('action="/account/sessions/revoke-others"');
    expect(page.text).toContain('href="/account/sessions"');
  });

  it('"sign out this device" (form): 303 back to the page, that device is signed out at once, the message shows once', async () => {
    const laptop = await signIn(server, ALICE, LAPTOP);
    const phone = await signIn(server, ALICE, PHONE);
    const [laptopEntry] = (await listAsJson(server, phone)).body as ListedSession[];
    expect(laptopEntry.userAgent).toBe(LAPTOP);

    const res = await postForm(server, `/account/sessions/${laptopEntry.id}/revoke`, phone);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/account/sessions');

    await shouldNotAuthenticate(server, laptop);
    expect((await whoAmI(server, phone)).status).toBe(200);
    const page = await request(server).get('/account/sessions').set('Cookie', res.headers['set-cookie'] ? sessionCookieOf(res) : phone).set('Accept', BROWSER_ACCEPT);
    expect(page.text).toContain('That device was signed out.');
    expect(page.text).not.toContain(LAPTOP);
    const again = await request(server).get('/account/sessions').set('Cookie', page.headers['set-cookie'] ? sessionCookieOf(page) : phone).set('Accept', BROWSER_ACCEPT);
    expect(again.text).not.toContain('That device was signed out.');
  });

  it('"sign out this device" (JSON): 204; an unknown, forged or foreign id: 404 and nothing changes', async () => {
    const laptop = await signIn(server, ALICE, LAPTOP);
    const phone = await signIn(server, ALICE, PHONE);
    const admin = await signIn(server, ADMIN, LAPTOP);
    const [adminEntry] = (await listAsJson(server, admin)).body as ListedSession[];
    const [laptopEntry] = (await listAsJson(server, phone)).body as ListedSession[];

    for (const id of ['nope', adminEntry.id, sessionIdIn(laptop), hashSessionId(sessionIdIn(laptop)), 'A'.repeat(400)]) {
      const res = await postJson(server, `/account/sessions/${encodeURIComponent(id)}/revoke`, phone);
      expect({ id, status: res.status }).toEqual({ id, status: 404 });
    }
    expect((await whoAmI(server, admin)).status).toBe(200);
    expect((await whoAmI(server, laptop)).status).toBe(200);

    const res = await postJson(server, `/account/sessions/${laptopEntry.id}/revoke`, phone);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    await shouldNotAuthenticate(server, laptop);
    expect((await postJson(server, `/account/sessions/${laptopEntry.id}/revoke`, phone)).status).toBe(404);

    const form = await postForm(server, `/account/sessions/${laptopEntry.id}/revoke`, phone);
    expect(form.status).toBe(303);
    const page = await request(server).get('/account/sessions').set('Cookie', form.headers['set-cookie'] ? sessionCookieOf(form) : phone).set('Accept', BROWSER_ACCEPT);
    expect(page.text).toContain('That session had already ended.');
  });

  it('"sign out everywhere else" (form): every other device of the user is signed out, this one and other users stay', async () => {
    const devices = [await signIn(server, ALICE, LAPTOP), await signIn(server, ALICE, PHONE), await signIn(server, ALICE, 'Tablet')];
    const admin = await signIn(server, ADMIN, LAPTOP);
    const current = devices[1];

    const res = await postForm(server, '/account/sessions/revoke-others', current);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/account/sessions');

    await shouldNotAuthenticate(server, devices[0]);
    await shouldNotAuthenticate(server, devices[2]);
    const kept = res.headers['set-cookie'] ? sessionCookieOf(res) : current;
    expect((await whoAmI(server, kept)).status).toBe(200);
    expect((await whoAmI(server, admin)).status).toBe(200);
    const page = await request(server).get('/account/sessions').set('Cookie', kept).set('Accept', BROWSER_ACCEPT);
    expect(page.text).toContain('Signed out 2 other sessions.');
    expect(page.text).toContain('No other device is signed in.');
    expect(((await listAsJson(server, kept)).body as ListedSession[]).map((entry) => entry.current)).toEqual([true]);
  });

  it('"sign out everywhere else" (JSON): 204', async () => {
    const other = await signIn(server, ALICE, LAPTOP);
    const current = await signIn(server, ALICE, PHONE);
    const res = await postJson(server, '/account/sessions/revoke-others', current);
    expect(res.status).toBe(204);
    await shouldNotAuthenticate(server, other);
    expect((await whoAmI(server, current)).status).toBe(200);
  });

  it('signing out this very device from the list is a logout: 303 to /login with a message, or 204', async () => {
    const phone = await signIn(server, ALICE, PHONE);
    const [entry] = (await listAsJson(server, phone)).body as ListedSession[];
    const res = await postForm(server, `/account/sessions/${entry.id}/revoke`, phone);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/login');
    await shouldNotAuthenticate(server, phone);
    const login = await request(server).get('/login').set('Cookie', sessionCookieOf(res)).set('Accept', BROWSER_ACCEPT);
    expect(login.text).toContain('This device was signed out.');

    const laptop = await signIn(server, ALICE, LAPTOP);
    const [own] = (await listAsJson(server, laptop)).body as ListedSession[];
    const api = await postJson(server, `/account/sessions/${own.id}/revoke`, laptop);
    expect(api.status).toBe(204);
    await shouldNotAuthenticate(server, laptop);
  });

  it('refuses a cross-site form post to the revoke routes with 403, and nothing is revoked', async () => {
    const other = await signIn(server, ALICE, LAPTOP);
    const current = await signIn(server, ALICE, PHONE);
    const res = await request(server)
      .post('/account/sessions/revoke-others')
      .set('Cookie', current)
      .set('Origin', 'https://evil.example')
      .set('Sec-Fetch-Site', 'cross-site')
      .type('form')
      .send('');
    expect(res.status).toBe(403);
    shouldNotIssueSessionCookie(res);
    expect((await whoAmI(server, other)).status).toBe(200);
  });
});

import request from 'supertest';
import { cookieValueOf, sessionCookieOf } from '../support/cookies';
import { ALICE, BROWSER_ACCEPT, logInAs, type RunningApp, sessionIdInside, startExampleApp, whoAmI } from './support';

// A session id carried in the URL leaks through Referer, logs, history and shared links, and lets
// an attacker fixate a session with a crafted link. The session is read from the cookie only:
// ids in the query string or in a body are ordinary data.
describe('session id in the URL or the body', () => {
  let running: RunningApp;
  let aliceCookie: string;

  beforeAll(async () => {
    running = await startExampleApp();
    aliceCookie = await logInAs(running.server, ALICE);
  });

  afterAll(async () => {
    await running.app.close();
  });

  const carriers = (): Array<[string, string]> => {
    const value = cookieValueOf(aliceCookie);
    const id = sessionIdInside(aliceCookie)!;
    return [
      ['sid=<cookie value>', `sid=${encodeURIComponent(value)}`],
      ['sid=<cookie value>, unencoded', `sid=${value}`],
      ['sid=<session id>', `sid=${encodeURIComponent(id)}`],
      ['sid=<sid=value pair>', `sid=${encodeURIComponent(aliceCookie)}`],
      ['session=<cookie value>', `session=${encodeURIComponent(value)}`],
      ['cookie=<sid=value pair>', `cookie=${encodeURIComponent(aliceCookie)}`],
      ['sid[]=<cookie value>', `sid[]=${encodeURIComponent(value)}`],
    ];
  };

  it('control: the same value in the cookie authenticates alice', async () => {
    const res = await whoAmI(running.server, aliceCookie);
    expect(res.body).toEqual({ username: 'alice', roles: ['user'] });
  });

  it('GET /me?<carrier> is 401 and issues no session', async () => {
    for (const [label, query] of carriers()) {
      const res = await request(running.server).get(`/me?${query}`).set('Accept', 'application/json');
      expect({ label, status: res.status }).toEqual({ label, status: 401 });
      expect(res.headers['set-cookie']).toBeUndefined();
    }
  });

  it('GET /articles/create?<carrier> is redirected to login (page) or 401 (API)', async () => {
    for (const [label, query] of carriers()) {
      const page = await request(running.server).get(`/articles/create?${query}`).set('Accept', BROWSER_ACCEPT);
      expect({ label, status: page.status }).toEqual({ label, status: 303 });
      expect(new URL(String(page.headers.location), 'http://app.test').pathname).toBe('/login');
      expect(page.text).not.toContain('Only signed-in users see this page');

      const api = await request(running.server).get(`/articles/create?${query}`).set('Accept', 'application/json');
      expect({ label, status: api.status }).toEqual({ label, status: 401 });
    }
  });

  it('GET /admin?<carrier> is refused', async () => {
    const adminCookie = await logInAs(running.server, { username: 'admin', password: 'admin-password' });
    const res = await request(running.server)
      .get(`/admin?sid=${encodeURIComponent(cookieValueOf(adminCookie))}`)
      .set('Accept', 'application/json');
    expect(res.status).toBe(401);
  });

  it('a POST body field sid (JSON or form) does not select a session: POST /visits starts a fresh one', async () => {
    // Give alice's session a counter, so reusing it would show as visits: 2.
    const own = await request(running.server).post('/visits').set('Cookie', aliceCookie);
    expect(own.body).toEqual({ visits: 1 });
    const current = own.headers['set-cookie'] === undefined ? aliceCookie : sessionCookieOf(own);

    const value = cookieValueOf(current);
    for (const [label, send] of [
      ['JSON', () => request(running.server).post('/visits').send({ sid: value, session: value })],
      ['form', () => request(running.server).post('/visits').type('form').send({ sid: value })],
      ['query and body', () => request(running.server).post(`/visits?sid=${encodeURIComponent(value)}`).send({ sid: value })],
    ] as const) {
      const res = await send();
      expect({ label, status: res.status, body: res.body as unknown }).toEqual({ label, status: 200, body: { visits: 1 } });
      const issued = sessionCookieOf(res);
      expect(sessionIdInside(issued)).not.toBe(sessionIdInside(aliceCookie));
    }
  });

  it("a POST /logout naming alice's session in the body or the query does not log her out", async () => {
    const value = cookieValueOf(aliceCookie);

    const logout = await request(running.server)
      .post(`/logout?sid=${encodeURIComponent(value)}`)
      .set('Accept', 'application/json')
      .send({ sid: value, session: value });
    expect(logout.status).toBe(204);

    const me = await whoAmI(running.server, aliceCookie);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ username: 'alice', roles: ['user'] });
  });

  it('a POST /login with sid in the body and the query issues a new id, not the one named', async () => {
    const value = cookieValueOf(aliceCookie);
    const login = await request(running.server)
      .post(`/login?sid=${encodeURIComponent(value)}`)
      .set('Accept', 'application/json')
      .send({ ...ALICE, sid: value });
    expect(login.status).toBe(200);
    const issued = sessionCookieOf(login);
    expect(sessionIdInside(issued)).not.toBe(sessionIdInside(aliceCookie));
    expect(issued).not.toBe(aliceCookie);
  });
});

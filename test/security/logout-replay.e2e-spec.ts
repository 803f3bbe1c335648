import request from 'supertest';
import type { App } from 'supertest/types';
import { sessionCookieOf, shouldNotIssueSessionCookie } from '../support/cookies';
import {
  ADMIN,
  ALICE,
  BROWSER_ACCEPT,
  CLIENT_SIDE,
  logInAs,
  type RunningApp,
  sessionIdInside,
  shouldNotAuthenticate,
  startExampleApp,
  storeHoldsSession,
  whoAmI,
} from './support';

// Logout replay: someone who copied the cookie (a shared computer, a stolen backup, malware, a
// second tab) keeps using it after the user logged out. Logout must end the session for every
// copy, in both modes (client-side through the revocation list).
describe('logout replay', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startExampleApp();
  });

  afterAll(async () => {
    await running.app.close();
  });

  function logOut(server: App, cookie: string, as: 'api' | 'form' = 'api'): request.Test {
    const req = request(server).post('/logout').set('Cookie', cookie);
    return as === 'api' ? req.set('Accept', 'application/json').send({}) : req.type('form').set('Accept', BROWSER_ACCEPT).send('');
  }

  /** Asserts a cookie reaches none of the protected routes. */
  async function shouldBeLockedOut(server: App, cookie: string): Promise<void> {
    await shouldNotAuthenticate(server, cookie);
    const articlesPage = await request(server).get('/articles/create').set('Cookie', cookie).set('Accept', BROWSER_ACCEPT);
    expect(articlesPage.status).toBe(303);
    expect(articlesPage.headers.location).toBe('/login?returnTo=%2Farticles%2Fcreate');
    const articlesApi = await request(server).get('/articles/create').set('Cookie', cookie).set('Accept', 'application/json');
    expect(articlesApi.status).toBe(401);
    const adminApi = await request(server).get('/admin').set('Cookie', cookie).set('Accept', 'application/json');
    expect(adminApi.status).toBe(401);
    const adminPage = await request(server).get('/admin').set('Cookie', cookie).set('Accept', BROWSER_ACCEPT);
    expect(adminPage.status).toBe(303);
    expect(adminPage.text).not.toContain('Only users with the');
  }

  it.each([
    ['a JSON logout', 'api'],
    ['a form logout', 'form'],
  ] as const)('after %s, a copy of the cookie taken before is refused on /me, /articles/create and /admin', async (_label, as) => {
    const { app, server } = running;
    const copy = await logInAs(server, ADMIN);
    const before = await request(server).get('/admin').set('Cookie', copy).set('Accept', 'application/json');
    expect(before.status).toBe(200);

    const logout = await logOut(server, copy, as);

    expect(logout.status).toBe(as === 'api' ? 204 : 303);
    await shouldBeLockedOut(server, copy);
    if (!CLIENT_SIDE) expect(await storeHoldsSession(app, sessionIdInside(copy)!)).toBe(false);
  });

  it('sign out in one tab is seen by the others: two copies of one cookie, logout with one, the other is dead', async () => {
    const { server } = running;
    const tabA = await logInAs(server, ALICE);
    const tabB = `${tabA}`; // the same cookie, as a second tab of the same browser sends it
    expect((await whoAmI(server, tabA)).status).toBe(200);
    expect((await whoAmI(server, tabB)).status).toBe(200);

    const logout = await logOut(server, tabA);
    expect(logout.status).toBe(204);

    const inOtherTab = await whoAmI(server, tabB);
    expect(inOtherTab.status).toBe(401);
    await shouldBeLockedOut(server, tabB);
  });

  it('an older copy of the same session (before a change re-issued or re-sealed the cookie) is dead too', async () => {
    const { server } = running;
    const older = await logInAs(server, ALICE);
    const visit = await request(server).post('/visits').set('Cookie', older);
    expect(visit.body).toEqual({ visits: 1 });
    // Client-side a change re-seals the cookie (same id, new value); server-side it stays the same.
    const newer = visit.headers['set-cookie'] === undefined ? older : sessionCookieOf(visit);
    if (CLIENT_SIDE) expect(newer).not.toBe(older);
    expect(sessionIdInside(newer)).toBe(sessionIdInside(older));

    expect((await logOut(server, newer)).status).toBe(204);

    await shouldBeLockedOut(server, older);
    await shouldBeLockedOut(server, newer);
  });

  it('logging out twice is harmless: no error, still logged out, and a new login works', async () => {
    const { server } = running;
    const cookie = await logInAs(server, ALICE);

    const first = await logOut(server, cookie);
    const second = await logOut(server, cookie);
    const asForm = await logOut(server, cookie, 'form');
    const withoutCookie = await request(server).post('/logout').set('Accept', 'application/json').send({});

    expect([first.status, second.status, asForm.status, withoutCookie.status]).toEqual([204, 204, 303, 204]);
    for (const res of [second, asForm, withoutCookie]) shouldNotIssueSessionCookie(res);
    await shouldNotAuthenticate(server, cookie);
    const again = await logInAs(server, ALICE, cookie);
    expect(sessionIdInside(again)).not.toBe(sessionIdInside(cookie));
    expect((await whoAmI(server, again)).body).toEqual({ username: 'alice', roles: ['user'] });
  });

  it('a write (POST /visits) with the dead cookie does not resurrect the session', async () => {
    const { app, server } = running;
    const cookie = await logInAs(server, ALICE);
    expect((await request(server).post('/visits').set('Cookie', cookie)).body).toEqual({ visits: 1 });
    expect((await logOut(server, cookie)).status).toBe(204);

    const replay = await request(server).post('/visits').set('Cookie', cookie);

    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ visits: 1 }); // a fresh, anonymous session, not alice's
    const fresh = sessionCookieOf(replay);
    expect(sessionIdInside(fresh)).not.toBe(sessionIdInside(cookie));
    await shouldNotAuthenticate(server, cookie);
    await shouldNotAuthenticate(server, fresh);
    if (!CLIENT_SIDE) expect(await storeHoldsSession(app, sessionIdInside(cookie)!)).toBe(false);
  });
});

import request from 'supertest';
import { generateSessionId } from '@app/session/core/session-id';
import { SESSION_COOKIE, sessionCookieOf } from '../support/cookies';
import {
  ADMIN,
  ALICE,
  BROWSER_ACCEPT,
  CLIENT_SIDE,
  forgedCookieValue,
  logInAs,
  type RunningApp,
  sessionIdInside,
  shouldNotAuthenticate,
  startExampleApp,
  storeHoldsSession,
  submitLoginForm,
  whoAmI,
} from './support';

// Session fixation: an attacker gets a victim's browser to carry a session id the attacker knows
// (planted before login), waits for the victim to log in, then uses that id. Login must rotate
// the id so what was planted never becomes an authenticated session.
describe('session fixation', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startExampleApp();
  });

  afterAll(async () => {
    await running.app.close();
  });

  /** Asserts a planted cookie is rotated at login, stays anonymous, and its session is gone. */
  async function shouldRotatePlantedSession(planted: string, login: request.Response, expectedStatus: number): Promise<string> {
    const { app, server } = running;
    expect(login.status).toBe(expectedStatus);
    const issued = sessionCookieOf(login);
    const plantedId = sessionIdInside(planted);
    expect(plantedId).toBeDefined();
    expect(issued).not.toBe(planted);
    expect(sessionIdInside(issued)).toBeDefined();
    expect(sessionIdInside(issued)).not.toBe(plantedId);

    await shouldNotAuthenticate(server, planted);
    if (!CLIENT_SIDE) expect(await storeHoldsSession(app, plantedId!)).toBe(false);
    const victim = await whoAmI(server, issued);
    expect(victim.status).toBe(200);
    expect(victim.body).toEqual({ username: 'alice', roles: ['user'] });
    return issued;
  }

  it('an anonymous session from GET /login?returnTo=/x is rotated by a form login, and the planted cookie stays anonymous', async () => {
    const { server } = running;
    const page = await request(server).get('/login?returnTo=/x').set('Accept', BROWSER_ACCEPT);
    expect(page.status).toBe(200);
    const planted = sessionCookieOf(page);

    const login = await submitLoginForm(server, ALICE, planted);

    expect(login.headers.location).toBe('/x'); // the planted session really was the one used
    await shouldRotatePlantedSession(planted, login, 303);
  });

  it('an anonymous session from POST /visits is rotated by a JSON login, and its data does not follow the planted cookie', async () => {
    const { server } = running;
    const first = await request(server).post('/visits');
    const second = await request(server).post('/visits').set('Cookie', sessionCookieOf(first));
    expect(second.body).toEqual({ visits: 2 });
    // Client-side the cookie is re-sealed at each change; server-side it stays the same.
    const planted = setCookieOrSame(second, sessionCookieOf(first));

    const login = await request(server).post('/login').set('Accept', 'application/json').set('Cookie', planted).send(ALICE);

    await shouldRotatePlantedSession(planted, login, 200);
    // The planted session is dead, not merely anonymous: writing through it starts from scratch.
    const replay = await request(server).post('/visits').set('Cookie', planted);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ visits: 1 });
  });

  it('a well-formed cookie value the attacker made up, with an id the attacker chose, is not adopted at login', async () => {
    const { app, server } = running;
    const chosenId = generateSessionId();
    const value = forgedCookieValue(chosenId);
    const planted = `${SESSION_COOKIE}=${value}`;
    await shouldNotAuthenticate(server, planted);

    const login = await request(server).post('/login').set('Accept', 'application/json').set('Cookie', planted).send(ALICE);

    expect(login.status).toBe(200);
    const issued = sessionCookieOf(login);
    expect(issued).not.toContain(value);
    const issuedId = sessionIdInside(issued);
    expect(issuedId).toBeDefined();
    expect(issuedId).not.toBe(chosenId);
    expect(issued).not.toContain(chosenId);
    if (!CLIENT_SIDE) expect(await storeHoldsSession(app, chosenId)).toBe(false);
    await shouldNotAuthenticate(server, planted);
  });

  it('a privilege change (alice, then admin in the same browser) rotates again, and the alice-era cookie does not give admin', async () => {
    const { app, server } = running;
    const aliceCookie = await logInAs(server, ALICE);
    const aliceId = sessionIdInside(aliceCookie);

    const adminCookie = await logInAs(server, ADMIN, aliceCookie);

    expect(adminCookie).not.toBe(aliceCookie);
    expect(sessionIdInside(adminCookie)).not.toBe(aliceId);
    const asAdmin = await whoAmI(server, adminCookie);
    expect(asAdmin.body).toEqual({ username: 'admin', roles: ['admin'] });

    await shouldNotAuthenticate(server, aliceCookie);
    if (!CLIENT_SIDE) expect(await storeHoldsSession(app, aliceId!)).toBe(false);
    for (const accept of ['application/json', BROWSER_ACCEPT]) {
      const adminPage = await request(server).get('/admin').set('Cookie', aliceCookie).set('Accept', accept);
      expect({ accept, status: adminPage.status }).toEqual({ accept, status: accept === BROWSER_ACCEPT ? 303 : 401 });
      expect(adminPage.text).not.toContain('Only users with the');
    }
  });

  it('dropping privileges (admin, then alice) rotates too: the admin-era cookie is dead', async () => {
    const { server } = running;
    const adminCookie = await logInAs(server, ADMIN);

    const aliceCookie = await logInAs(server, ALICE, adminCookie);

    expect(sessionIdInside(aliceCookie)).not.toBe(sessionIdInside(adminCookie));
    await shouldNotAuthenticate(server, adminCookie);
    const adminPage = await request(server).get('/admin').set('Cookie', adminCookie).set('Accept', 'application/json');
    expect(adminPage.status).toBe(401);
  });
});

/** The session cookie a response set, or `fallback` when it set none (an unchanged cookie). */
function setCookieOrSame(res: request.Response, fallback: string): string {
  const header: unknown = res.headers['set-cookie'];
  return header === undefined ? fallback : sessionCookieOf(res);
}

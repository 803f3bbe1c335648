import type { INestApplication } from '@nestjs/common';
import request, { type Response } from 'supertest';
import { createExampleApp } from '../support/example-app';
import { sessionCookieFrom, setCookieFor } from '../support/test-stores';

// Parallel requests against the example app, on the store SESSION_STORE names (memory by default;
// `cookie` for client-side sessions): sessions must neither bleed into each other nor break.

const PARALLEL_LOGINS = 50;
const PARALLEL_READS = 200;
const PARALLEL_VISITS = 100;

describe(`Concurrent requests to the example app (SESSION_STORE=${process.env.SESSION_STORE ?? 'memory'})`, () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await createExampleApp();
    // Listening once: supertest then reuses this server instead of starting one per request.
    await app.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await app.close();
  });

  const logIn = (username: string): Promise<Response> =>
    request(app.getHttpServer()).post('/login').set('Accept', 'application/json').send({ username, password: `${username}-password` });

  const whoIs = (cookie: string): Promise<Response> => request(app.getHttpServer()).get('/me').set('Cookie', cookie);

  function shouldAllAnswer(responses: readonly Response[], status: number): void {
    const unexpected = responses
      .map((response, index) => ({ index, status: response.status, body: response.text.slice(0, 300) }))
      .filter((answer) => answer.status !== status);
    expect(unexpected).toEqual([]);
  }

  it(`${PARALLEL_LOGINS} parallel logins give ${PARALLEL_LOGINS} distinct working sessions, each of its own user`, async () => {
    const usernames = Array.from({ length: PARALLEL_LOGINS }, (_, index) => (index % 2 === 0 ? 'alice' : 'admin'));
    const logins = await Promise.all(usernames.map(logIn));
    shouldAllAnswer(logins, 200);

    const cookies = logins.map((response) => sessionCookieFrom(response));
    expect(new Set(cookies).size).toBe(PARALLEL_LOGINS);

    const answers = await Promise.all(cookies.map(whoIs));
    shouldAllAnswer(answers, 200);
    expect(answers.map((answer) => (answer.body as { username: string }).username)).toEqual(usernames);
  });

  it(`${PARALLEL_READS} parallel GET /me with one cookie all answer 200 for that user`, async () => {
    const cookie = sessionCookieFrom(await logIn('alice'));
    const answers = await Promise.all(Array.from({ length: PARALLEL_READS }, () => whoIs(cookie)));
    shouldAllAnswer(answers, 200);
    for (const answer of answers) expect(answer.body).toEqual({ username: 'alice', roles: ['user'] });
  });

  it(`${PARALLEL_VISITS} parallel POST /visits with one cookie all succeed and the session stays valid`, async () => {
    const cookie = sessionCookieFrom(await logIn('alice'));
    const visits = await Promise.all(
      Array.from({ length: PARALLEL_VISITS }, () => request(app.getHttpServer()).post('/visits').set('Cookie', cookie)),
    );
    shouldAllAnswer(visits, 200);
    // Each request read the count and wrote it back (one key, last writer wins): increments made
    // at the same time can overwrite each other, so only the range is certain, not the total.
    for (const visit of visits) {
      const count = (visit.body as { visits: unknown }).visits;
      expect(Number.isInteger(count)).toBe(true);
      expect(count).toBeGreaterThanOrEqual(1);
      expect(count).toBeLessThanOrEqual(PARALLEL_VISITS);
    }

    const after = await whoIs(cookie);
    expect(after.status).toBe(200);
    expect(after.body).toEqual({ username: 'alice', roles: ['user'] });
    // With client-side sessions the count travels in the cookie each answer re-issues; with a
    // store the cookie stays the same. Either way the next visit builds on a stored count.
    const latest = setCookieFor(visits[visits.length - 1]) === undefined ? cookie : sessionCookieFrom(visits[visits.length - 1]);
    const next = await request(app.getHttpServer()).post('/visits').set('Cookie', latest);
    expect(next.status).toBe(200);
    expect((next.body as { visits: number }).visits).toBeGreaterThanOrEqual(2);
  });

  // Whether a visit lands before or after the logout depends on timing (on the memory store they
  // mostly land before); test/e2e/interrupted-write.e2e-spec.ts holds a request at a gate to
  // force the interleaving. This checks that, however they interleave, no answer is outside the rules.
  it('POST /visits racing a logout: every visit answers 200 (committed before the logout), 401 or 409 SESSION_INTERRUPTED with the cookie expired, and the session stays ended', async () => {
    const cookie = sessionCookieFrom(await logIn('alice'));
    const visit = () => request(app.getHttpServer()).post('/visits').set('Cookie', cookie).set('Accept', 'application/json');
    const before = Array.from({ length: 30 }, visit);
    const logout = request(app.getHttpServer()).post('/logout').set('Cookie', cookie).set('Accept', 'application/json');
    const after = Array.from({ length: 30 }, visit);
    const [visits, loggedOut] = await Promise.all([Promise.all([...before, ...after]), logout]);
    expect(loggedOut.status).toBeLessThan(400);

    const unexpected = visits.filter((answer) => ![200, 401, 409].includes(answer.status));
    expect(unexpected.map((answer) => `${answer.status} ${answer.text.slice(0, 200)}`)).toEqual([]);
    for (const answer of visits.filter((response) => response.status === 409)) {
      // Loaded before the logout, committed after it: its write was not kept, and it says so.
      expect(answer.body).toMatchObject({ code: 'SESSION_INTERRUPTED' });
      expect(setCookieFor(answer)).toMatch(/^sid=;/);
    }
    // The session stays ended: no slower write brought it back.
    expect((await whoIs(cookie)).status).toBe(401);
  });
});

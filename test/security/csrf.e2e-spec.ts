import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { createExampleApp } from '../support/example-app';

const EVIL = 'http://evil.example';
const FORM = 'application/x-www-form-urlencoded';

/** Logs alice in through JSON (no Origin: not a browser page) and returns her cookie. */
async function aliceCookie(app: INestApplication): Promise<string> {
  const response = await request(app.getHttpServer())
    .post('/login')
    .send({ username: 'alice', password: 'alice-password' })
    .expect(200);
  const header = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
  return header[0].split(';')[0];
}

describe('CSRF: cross-site form posts to the example app are refused', () => {
  // The Host the requests name, and so the app's own origin for them.
  const host = 'app.test';
  let app: INestApplication;

  beforeAll(async () => {
    app = await createExampleApp();
  });

  afterAll(async () => {
    await app.close();
  });

  it.each<[string, Record<string, string>]>([
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site', Origin: EVIL }],
    ['a foreign Origin (older browsers without Sec-Fetch-Site)', { Origin: EVIL }],
    ['Origin: null (sandboxed frame)', { Origin: 'null' }],
    ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'Sec-Fetch-Site': 'same-site', Origin: 'http://blog.example' }],
  ])('a cross-site form POST to /login with %s gets 403 and no session', async (_label, headers) => {
    const response = await request(app.getHttpServer())
      .post('/login')
      .set(headers)
      .type(FORM)
      .send('username=alice&password=alice-password');
    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ statusCode: 403, message: 'Cross-site request refused' });
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  it('a cross-site form POST to /logout gets 403 and the session survives', async () => {
    const cookie = await aliceCookie(app);
    await request(app.getHttpServer())
      .post('/logout')
      .set({ Cookie: cookie, 'Sec-Fetch-Site': 'cross-site', Origin: EVIL })
      .type(FORM)
      .expect(403);
    await request(app.getHttpServer()).get('/me').set('Cookie', cookie).expect(200);
  });

  it('a cross-site POST to /visits cannot change the session', async () => {
    const cookie = await aliceCookie(app);
    await request(app.getHttpServer()).post('/visits').set({ Cookie: cookie, Origin: EVIL }).expect(403);
    await request(app.getHttpServer()).post('/visits').set('Cookie', cookie).expect(200, { visits: 1 });
  });

  it('a same-origin form POST (what the login page sends) works', async () => {
    const response = await request(app.getHttpServer())
      .post('/login')
      .set({ 'Sec-Fetch-Site': 'same-origin', Origin: `http://${host}`, Host: host })
      .type(FORM)
      .send('username=alice&password=alice-password');
    expect(response.status).toBe(303);
  });

  it('an older browser sending our own Origin and no Sec-Fetch-Site works', async () => {
    const response = await request(app.getHttpServer())
      .post('/login')
      .set({ Origin: `http://${host}`, Host: host })
      .type(FORM)
      .send('username=alice&password=alice-password');
    expect(response.status).toBe(303);
  });

  it('cross-site GET navigations (links into the site) still work', async () => {
    await request(app.getHttpServer()).get('/login').set({ 'Sec-Fetch-Site': 'cross-site' }).expect(200);
  });
});

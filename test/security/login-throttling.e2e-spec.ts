import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { createExampleApp } from '../support/example-app';

const WINDOW_MS = 1_500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function attempt(app: INestApplication, username: string, password: string, client = '203.0.113.1') {
  // trustProxy is on in this app, so X-Forwarded-For names the client, as behind a real proxy.
  return request(app.getHttpServer()).post('/login').set('X-Forwarded-For', client).send({ username, password });
}

describe('Login throttling (brute force) on the example app', () => {
  let app: INestApplication;

  beforeEach(async () => {
    app = await createExampleApp({ http: { trustProxy: true }, loginThrottle: { perAccount: 3, perClient: 6, windowMs: WINDOW_MS } });
  });

  afterEach(async () => {
    await app.close();
  });

  it('answers 429 with Retry-After after repeated attempts on one account, even from many addresses', async () => {
    for (let index = 0; index < 3; index++) {
      await attempt(app, 'alice', `wrong-${index}`, `198.51.100.${index + 1}`).expect(401);
    }
    const blocked = await attempt(app, 'alice', 'alice-password', '198.51.100.99');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(blocked.headers['set-cookie']).toBeUndefined();
  });

  it('counts the account case-insensitively', async () => {
    for (const name of ['alice', 'ALICE', 'Alice']) await attempt(app, name, 'wrong').expect(401);
    await attempt(app, 'aLiCe', 'wrong').expect(429);
  });

  it('answers 429 after repeated attempts from one client across many accounts', async () => {
    for (let index = 0; index < 6; index++) await attempt(app, `user${index}`, 'wrong', '203.0.113.7').expect(401);
    await attempt(app, 'admin', 'admin-password', '203.0.113.7').expect(429);
    // Another client is not affected.
    await attempt(app, 'admin', 'admin-password', '203.0.113.8').expect(200);
  });

  it('does not lock the real user out for good: the block ends with the window', async () => {
    for (let index = 0; index < 3; index++) await attempt(app, 'alice', 'wrong').expect(401);
    await attempt(app, 'alice', 'alice-password').expect(429);
    await sleep(WINDOW_MS * 2 + 200);
    await attempt(app, 'alice', 'alice-password').expect(200);
  });

  it('throttles only POST /login: other routes are not limited', async () => {
    for (let index = 0; index < 8; index++) await request(app.getHttpServer()).get('/login').expect(200);
  });
});

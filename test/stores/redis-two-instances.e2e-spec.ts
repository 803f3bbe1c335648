import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { loadExampleConfig } from '../../apps/example/src/config/example-config';
import { createExampleApp } from '../support/example-app';
import { describeWithService, uniqueName } from '../support/services';

/**
 * Two instances of the example app sharing one Redis, each with its own client and its own
 * client-side cache (the example's Redis set-up): what one instance does to a session is what the
 * other serves on the very next request, never a cached copy from before.
 */

const JSON_ACCEPT = 'application/json';

function sessionCookie(setCookie: string[] | string | undefined): string {
  const headers = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  const cookie = headers.map((header) => header.split(';', 1)[0]).find((pair) => pair.startsWith('sid='));
  if (!cookie) throw new Error(`no session cookie in ${JSON.stringify(setCookie)}`);
  return cookie;
}

describeWithService('redis')('two example instances sharing Redis (client-side caching on)', () => {
  let a: INestApplication;
  let b: INestApplication;
  let serverA: App;
  let serverB: App;

  beforeAll(async () => {
    const prefix = `${uniqueName('two_instances')}:`;
    const { store } = loadExampleConfig({ SESSION_SECRET: 'unused-here-0123456789abcdefghijklmnopqrstuv', SESSION_STORE: 'redis' });
    const shared = { store: { ...store, keyPrefix: prefix } };
    a = await createExampleApp(shared);
    b = await createExampleApp(shared);
    serverA = a.getHttpServer() as App;
    serverB = b.getHttpServer() as App;
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  async function login(server: App): Promise<string> {
    const response = await request(server).post('/login').set('Accept', JSON_ACCEPT).send({ username: 'alice', password: 'alice-password' });
    expect(response.status).toBe(200);
    return sessionCookie(response.headers['set-cookie']);
  }

  it('a login on A is recognised on B, repeatedly (B answering from its cache)', async () => {
    const cookie = await login(serverA);
    for (let index = 0; index < 10; index++) {
      const me = await request(serverB).get('/me').set('Accept', JSON_ACCEPT).set('Cookie', cookie);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ username: 'alice' });
    }
  });

  it('writes alternate between A and B without losing one', async () => {
    const cookie = await login(serverA);
    for (let visit = 1; visit <= 30; visit++) {
      const server = visit % 2 === 0 ? serverA : serverB;
      const response = await request(server).post('/visits').set('Accept', JSON_ACCEPT).set('Cookie', cookie);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ visits: visit });
    }
  });

  it('a logout on A is seen at once on B, which had the session cached', async () => {
    for (let round = 0; round < 10; round++) {
      const cookie = await login(serverA);
      await request(serverB).get('/me').set('Accept', JSON_ACCEPT).set('Cookie', cookie).expect(200);
      await request(serverB).get('/me').set('Accept', JSON_ACCEPT).set('Cookie', cookie).expect(200);

      const logout = await request(serverA).post('/logout').set('Accept', JSON_ACCEPT).set('Cookie', cookie);
      expect(logout.status).toBeLessThan(400);

      const after = await request(serverB).get('/me').set('Accept', JSON_ACCEPT).set('Cookie', cookie);
      expect(after.status).toBe(401);
    }
  });
});

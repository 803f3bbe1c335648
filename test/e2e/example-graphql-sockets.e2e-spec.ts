import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { App } from 'supertest/types';
import type { Socket as ClientSocket } from 'socket.io-client';
import { sessionCookieOf } from '../support/cookies';
import { createExampleApp } from '../support/example-app';
import { HTTP_PLATFORM } from '../support/http-platform';
import { ask, connected, ioClient } from '../support/socket-app';
import { ADMIN, ALICE, logInAs } from '../security/support';

/*
 * The example's contract for GraphQL and socket.io (outside checks rely on it), on this run's
 * platform and store (test:example-stores runs it on each):
 * - POST /graphql: `query { me { username roles } }` (or UNAUTHENTICATED), `mutation { visit }`
 *   (the counter of POST /visits);
 * - socket.io on /socket.io/, default namespace: `whoami` acknowledged with { username, roles },
 *   `Authentication required` for anonymous sockets, `Cross-site connection refused` for another
 *   site's page, `session-ended` and a disconnect within 1 s when the session ends.
 */

// memcached and express-session stores cannot list sessions per user.
const LISTS_SESSIONS = !['memcached', 'connect-redis', 'connect-pg-simple'].includes(process.env.SESSION_STORE ?? '');

describe(`example: GraphQL and socket.io (${HTTP_PLATFORM})`, () => {
  let app: INestApplication;
  let server: App;
  let url: string;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    app = await createExampleApp();
    await app.listen(0, '127.0.0.1');
    server = app.getHttpServer() as App;
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.disconnect();
  });

  afterAll(async () => {
    await app.close();
  });

  function graphql(query: string, cookie?: string) {
    const call = request(server).post('/graphql').set('Content-Type', 'application/json');
    if (cookie) call.set('Cookie', cookie);
    return call.send({ query });
  }

  function socket(headers: Record<string, string>): ClientSocket {
    const client = ioClient(url, headers);
    sockets.push(client);
    return client;
  }

  /** Resolves with the `session-ended` reason once the socket is disconnected, and how long after `since` that was. */
  function ends(client: ClientSocket, since: () => number): Promise<{ reason: string | undefined; afterMs: number }> {
    return new Promise((resolve, reject) => {
      let reason: string | undefined;
      const timer = setTimeout(() => reject(new Error('the socket was not disconnected within 3 s')), 3000);
      client.once('session-ended', (payload: { reason: string }) => (reason = payload.reason));
      client.once('disconnect', () => {
        clearTimeout(timer);
        resolve({ reason, afterMs: Date.now() - since() });
      });
    });
  }

  describe('POST /graphql', () => {
    it('answers me for the signed-in user, with the same cookie as the HTTP routes', async () => {
      const cookie = await logInAs(server, ADMIN);
      const res = await graphql('query { me { username roles } }', cookie).expect(200);
      expect(res.body).toEqual({ data: { me: { username: 'admin', roles: ['admin'] } } });
    });

    it('answers me for an anonymous request with an UNAUTHENTICATED error', async () => {
      const res = await graphql('query { me { username roles } }').expect(200);
      expect(res.body).toMatchObject({ data: null, errors: [{ message: 'Authentication required', extensions: { code: 'UNAUTHENTICATED' } }] });
    });

    it('counts visits with mutation { visit }: the same counter as POST /visits', async () => {
      const first = await graphql('mutation { visit }').expect(200);
      expect(first.body).toEqual({ data: { visit: 1 } });
      let cookie = sessionCookieOf(first);
      const http = await request(server).post('/visits').set('Cookie', cookie).expect(200);
      expect(http.body).toEqual({ visits: 2 });
      if (http.headers['set-cookie']) cookie = sessionCookieOf(http);
      const again = await graphql('mutation { visit }', cookie).expect(200);
      expect(again.body).toEqual({ data: { visit: 3 } });
    });

    it('refuses a mutation a cross-site page sent', async () => {
      const cookie = await logInAs(server, ALICE);
      const res = await request(server)
        .post('/graphql')
        .set('Content-Type', 'application/json')
        .set('Cookie', cookie)
        .set('Origin', 'https://evil.example')
        .set('Sec-Fetch-Site', 'cross-site')
        .send({ query: 'mutation { visit }' });
      expect(JSON.stringify(res.body)).not.toContain('"visit":');
      expect(JSON.stringify(res.body)).toContain('Cross-site request refused');
    });
  });

  describe('socket.io on /socket.io/', () => {
    it('acknowledges whoami with { username, roles }', async () => {
      const client = socket({ Cookie: await logInAs(server, ALICE), Origin: url });
      await connected(client);
      await expect(ask(client, 'whoami')).resolves.toEqual({ username: 'alice', roles: ['user'] });
    });

    it('refuses an anonymous connection with connect_error "Authentication required"', async () => {
      await expect(connected(socket({}))).rejects.toThrow('Authentication required');
    });

    it('refuses a handshake from another site with connect_error "Cross-site connection refused"', async () => {
      const cookie = await logInAs(server, ALICE);
      await expect(connected(socket({ Cookie: cookie, Origin: 'https://evil.example' }))).rejects.toThrow('Cross-site connection refused');
    });

    it('emits session-ended and disconnects within 1 s of POST /logout', async () => {
      const cookie = await logInAs(server, ALICE);
      const client = socket({ Cookie: cookie });
      await connected(client);
      let loggedOutAt = 0;
      const ended = ends(client, () => loggedOutAt);
      loggedOutAt = Date.now();
      await request(server).post('/logout').set('Cookie', cookie).set('Accept', 'application/json').expect((res) => expect(res.status).toBeLessThan(400));
      const result = await ended;
      expect(result.reason).toBe('logout');
      expect(result.afterMs).toBeLessThan(1000);
    });

    // memcached cannot list sessions per user: there is no sessions page to revoke from (account-sessions checks its 501).
    if (LISTS_SESSIONS) it('emits session-ended and disconnects within 1 s of a revoke from the sessions page, and of sign out everywhere', async () => {
      const phone = await logInAs(server, ALICE);
      const laptop = await logInAs(server, ALICE);
      const tablet = await logInAs(server, ALICE);
      const phoneSocket = socket({ Cookie: phone });
      const tabletSocket = socket({ Cookie: tablet });
      await Promise.all([connected(phoneSocket), connected(tabletSocket)]);

      const list = await request(server).get('/account/sessions').set('Cookie', laptop).set('Accept', 'application/json').expect(200);
      const phoneEntry = (list.body as Array<{ id: string; current: boolean }>).find((entry) => !entry.current);
      expect(phoneEntry).toBeDefined();
      let revokedAt = 0;
      const phoneEnded = ends(phoneSocket, () => revokedAt);
      const tabletEnded = ends(tabletSocket, () => revokedAt);
      revokedAt = Date.now();
      await request(server).post('/account/sessions/revoke-others').set('Cookie', laptop).set('Accept', 'application/json').expect(204);
      for (const result of await Promise.all([phoneEnded, tabletEnded])) {
        expect(result.reason).toBe('revoke-all');
        expect(result.afterMs).toBeLessThan(1000);
      }

      const again = await logInAs(server, ALICE);
      const againSocket = socket({ Cookie: again });
      await connected(againSocket);
      const sessions = await request(server).get('/account/sessions').set('Cookie', laptop).set('Accept', 'application/json').expect(200);
      const target = (sessions.body as Array<{ id: string; current: boolean }>).find((entry) => !entry.current);
      revokedAt = Date.now();
      const againEnded = ends(againSocket, () => revokedAt);
      await request(server).post(`/account/sessions/${encodeURIComponent(target!.id)}/revoke`).set('Cookie', laptop).set('Accept', 'application/json').expect(204);
      const result = await againEnded;
      expect(result.reason).toBe('revoked');
      expect(result.afterMs).toBeLessThan(1000);
    });
  });
});

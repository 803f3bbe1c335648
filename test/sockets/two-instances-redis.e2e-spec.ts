import type { INestApplication } from '@nestjs/common';
import { createClient, type RedisClientType } from 'redis';
import request from 'supertest';
import type { App } from 'supertest/types';
import { RedisEndedSessionBroadcast, RedisStore, type SessionOptions } from '@app/session';
import { sessionCookieOf } from '../support/cookies';
import { HTTP_PLATFORM } from '../support/http-platform';
import { describeWithService, uniqueName } from '../support/services';
import { ask, bootSocketApp, connected, ioClient } from '../support/socket-app';
import { TEST_SECRET } from '../support/test-stores';
import type { Socket as ClientSocket } from 'socket.io-client';

/*
 * Two instances sharing one Redis, each with its own clients: a session ended on instance A
 * closes the socket instance B holds within a second (Redis publish/subscribe), in both modes.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describeWithService('redis')(`sockets on two instances sharing Redis (${HTTP_PLATFORM})`, () => {
  const prefix = `${uniqueName('sock2')}:`;
  const channel = `${prefix}ended`;
  const clients: RedisClientType[] = [];
  const apps: INestApplication[] = [];

  async function instance(mode: 'server' | 'cookie'): Promise<{ app: INestApplication; url: string }> {
    const client = createClient({ url: REDIS_URL }) as RedisClientType;
    await client.connect();
    clients.push(client);
    const store = new RedisStore({ client, prefix });
    const options = {
      secret: TEST_SECRET,
      name: 'sid',
      ...(mode === 'cookie' ? { mode: 'cookie', revocationStore: store } : { store }),
      sockets: { broadcast: new RedisEndedSessionBroadcast({ client, channel }) },
    } as SessionOptions;
    const started = await bootSocketApp('socket.io', options);
    apps.push(started.app);
    return started;
  }

  afterAll(async () => {
    for (const app of apps) await app.close();
    const [first] = clients;
    if (first) {
      const keys: string[] = [];
      for await (const batch of first.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) keys.push(...batch);
      if (keys.length > 0) await first.del(keys);
    }
    for (const client of clients) await client.close();
  });

  it.each(['server', 'cookie'] as const)('logout on instance A closes the socket held on instance B within 1 s (%s mode)', async (mode) => {
    const a = await instance(mode);
    const b = await instance(mode);
    const cookie = sessionCookieOf(await request(a.app.getHttpServer() as App).post('/login').expect(204));
    const socket: ClientSocket = ioClient(b.url, { Cookie: cookie });
    try {
      await connected(socket);
      await expect(ask(socket, 'whoami')).resolves.toEqual({ id: 'alice', roles: ['user'] });
      const ended = new Promise<{ reason: string; afterMs: number }>((resolve, reject) => {
        let reason: string | undefined;
        const timer = setTimeout(() => reject(new Error('not ended within 3 s')), 3000);
        socket.once('session-ended', (payload: { reason: string }) => (reason = payload.reason));
        socket.once('disconnect', () => {
          clearTimeout(timer);
          resolve({ reason: reason ?? 'none', afterMs: Date.now() - startedAt });
        });
      });
      const startedAt = Date.now();
      await request(a.app.getHttpServer() as App).post('/logout').set('Cookie', cookie).expect(204);
      const result = await ended;
      expect(result.reason).toBe('logout');
      expect(result.afterMs).toBeLessThan(1000);
    } finally {
      socket.disconnect();
    }
  });
});

describeWithService('redis')('RedisEndedSessionBroadcast', () => {
  it('delivers what one instance publishes to every subscriber, and ignores foreign messages on the channel', async () => {
    const channel = `${uniqueName('bcast')}:ended`;
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    const broadcast = new RedisEndedSessionBroadcast({ client, channel });
    const received: Array<[string, string]> = [];
    const stop = await broadcast.subscribe((key, reason) => received.push([key, reason]));
    try {
      const key = 'a'.repeat(43);
      await client.publish(channel, 'not a message');
      await client.publish(channel, 'logout short-key');
      await broadcast.publish(key, 'revoked');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(received).toEqual([[key, 'revoked']]);
    } finally {
      await stop();
      await client.close();
    }
  });

  it('refuses a client that is not a node-redis client, with the option named', () => {
    expect(() => new RedisEndedSessionBroadcast({ client: {} as never })).toThrow(/RedisEndedSessionBroadcast client: must be a node-redis client/);
  });
});

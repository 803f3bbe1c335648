import type { Socket as ClientSocket } from 'socket.io-client';
import { describeWithService } from '../support/services';
import { ask, connected, ioClient } from '../support/socket-app';
import { ALICE, Browser, deleteRedisKeys, exampleConfig, runName, startsInstances } from './support';

/*
 * The example's sockets across instances sharing Redis: a browser signed in through instance A
 * holds a socket on instance B; signing out on instance C (or A) closes it within a second,
 * through the example's RedisEndedSessionBroadcast.
 */

describeWithService('redis')('example sockets across instances sharing Redis', () => {
  const prefix = `${runName('mi_sock')}:`;
  const config = exampleConfig({ SESSION_STORE: 'redis', SESSION_KEY_PREFIX: prefix });
  const instances = startsInstances(config, () => deleteRedisKeys(config.store.redisUrl, prefix));

  it.each([
    ['POST /logout on instance A', 'logout'],
    ['sign out everywhere else on instance C', 'revoke-all'],
  ] as const)('closes the socket held on instance B within 1 s of %s', async (_name, reason) => {
    const [a, b, c] = instances();
    const browser = new Browser('socket-test');
    expect((await browser.send(a, 'post', '/login', ALICE)).status).toBe(200);
    const socket: ClientSocket = ioClient(b.url, { Cookie: browser.cookie! });
    try {
      await connected(socket);
      await expect(ask(socket, 'whoami')).resolves.toEqual({ username: 'alice', roles: ['user'] });
      let endedAt = 0;
      const ended = new Promise<{ reason?: string; afterMs: number }>((resolve, reject) => {
        let got: string | undefined;
        const timer = setTimeout(() => reject(new Error('the socket on B was not closed within 3 s')), 3000);
        socket.once('session-ended', (payload: { reason: string }) => (got = payload.reason));
        socket.once('disconnect', () => {
          clearTimeout(timer);
          resolve({ reason: got, afterMs: Date.now() - endedAt });
        });
      });
      if (reason === 'logout') {
        endedAt = Date.now();
        expect((await browser.send(a, 'post', '/logout')).status).toBe(204);
      } else {
        // Another device of alice signs every other session out, through instance C.
        const other = new Browser('other-device');
        expect((await other.send(c, 'post', '/login', ALICE)).status).toBe(200);
        endedAt = Date.now();
        expect((await other.send(c, 'post', '/account/sessions/revoke-others')).status).toBe(204);
      }
      const result = await ended;
      expect(result.reason).toBe(reason);
      expect(result.afterMs).toBeLessThan(1000);
    } finally {
      socket.disconnect();
    }
  });
});

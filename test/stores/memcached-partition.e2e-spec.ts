import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as memjs from 'memjs';
import { MemcachedStore, type SessionRecord } from '@app/session';
import { describeWithService, uniqueName } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { sleep, storeKeyOf } from '../support/test-stores';

/**
 * memjs 1.3.2 times a request out with the socket's idle timer: every request written on the
 * connection postpones it. During a partition, requests that arrive out of step (each one the
 * next request of a caller whose previous one hit the store's operation timeout) keep writing on
 * the frozen connection, so memjs never gives up on it, and after the heal it stays in use until
 * the partition releases it. The store must stop using a connection on which a request went
 * unanswered past memjs's own request timeout, whatever its idle timer says.
 */

const MEMJS_TIMEOUT_S = 0.25;
const OPERATION_TIMEOUT_MS = 400;
/** Callers reading during the partition, each starting this long after the previous one. */
const READERS = 4;
const READER_STAGGER_MS = 100;
const FREEZE_MS = 1_500;
const HELD_CONNECTIONS_AFTER_MS = 1_500;
const RECOVERY_MS = 1_000;

function record(): SessionRecord {
  const now = Date.now();
  return { data: { n: 0 }, createdAt: now, touchedAt: now, expiresAt: now + 60_000 };
}

describeWithService('memcached')('MemcachedStore after a partition that requests kept arriving on out of step', () => {
  const prefix = `${uniqueName('partition')}:`;
  const keys: string[] = [];
  let proxy: TcpProxy;
  let client: memjs.Client;
  let store: MemcachedStore;

  const newSessionKey = (): string => {
    const key = storeKeyOf(`sid=${randomBytes(32).toString('base64url')}`);
    keys.push(key);
    return key;
  };

  beforeAll(async () => {
    proxy = await new TcpProxy(11211).start();
    client = memjs.Client.create(`127.0.0.1:${proxy.port}`, { timeout: MEMJS_TIMEOUT_S, retries: 1, logger: { log: () => undefined } });
    store = new MemcachedStore({ client, prefix, operationTimeout: OPERATION_TIMEOUT_MS });
  });

  afterAll(async () => {
    proxy.heal();
    await proxy.released();
    for (const key of keys) await store.destroy(key).catch(() => undefined);
    client.close();
    await proxy.stop();
  });

  it('drops the frozen connection and writes again within a second of the heal', async () => {
    const key = newSessionKey();
    await store.set(key, record());

    proxy.freeze();
    let stopped = false;
    // Out of step: one request written every READER_STAGGER_MS or so, well within memjs's idle
    // timeout, each caller giving up at the operation timeout and asking again at once.
    const readers = Array.from({ length: READERS }, async (_, index) => {
      await sleep(index * READER_STAGGER_MS);
      while (!stopped) {
        await store.get(key).catch(() => undefined);
        await sleep(10);
      }
    });
    await sleep(FREEZE_MS);
    proxy.heal({ heldConnectionsAfterMs: HELD_CONNECTIONS_AFTER_MS });
    const healedAt = performance.now();

    let recovery = Infinity;
    while (performance.now() - healedAt < HELD_CONNECTIONS_AFTER_MS + RECOVERY_MS) {
      try {
        await store.set(newSessionKey(), record());
        recovery = performance.now() - healedAt;
        break;
      } catch {
        // Not back yet: the next attempt is a new request.
      }
    }
    stopped = true;
    await Promise.all(readers);
    console.info(`[memcached partition] first write ${Math.round(recovery)} ms after the heal`);
    expect(recovery).toBeLessThan(RECOVERY_MS);
  }, 15_000);
});

import { performance } from 'node:perf_hooks';
import { createClient } from 'redis';
import { RedisStore, SessionStoreError, type RedisStoreClient, type SessionRecord } from '@app/session';
import { describeWithService, uniqueName } from '../support/services';
import { partitionReadyRedisOptions } from '../support/redis-options';
import { TcpProxy } from '../support/tcp-proxy';
import { sleep } from '../support/test-stores';

/**
 * RedisStore with Redis client-side caching (RESP3, CLIENT TRACKING), both ways it supports: the
 * store's own `localCache` on a client made with `emitInvalidate`, and node-redis's
 * `clientSideCache`. Two instances, each with its own client and cache, share one Redis. A read
 * of an unchanged session is served from memory, and no instance ever serves a copy another
 * instance has changed, destroyed or let expire.
 *
 * "After a write" below means after the writer's reply. Redis queues the invalidation for the
 * reader's connection when the write runs, but nothing makes it arrive before the reader's next
 * read: `localCache` confirms every cached copy with a PING written after the read began (its read
 * barrier), so it needs nothing more. node-redis's `clientSideCache` has no such barrier: for it
 * the test sends the PING itself ({@link afterWrite}), as its users would have to.
 */

const REDIS_URL = 'redis://127.0.0.1:6379';

type Flavour = 'localCache' | 'clientSideCache';

async function cachingClient(flavour: Flavour) {
  const client =
    flavour === 'localCache'
      ? createClient({ url: REDIS_URL, RESP: 3, emitInvalidate: true })
      : createClient({ url: REDIS_URL, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 1_000 } });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

type CachingClient = Awaited<ReturnType<typeof cachingClient>>;

/** The client as the store sees it, counting the HGETALLs that reach Redis (or node-redis's cache). */
function countingReads(client: CachingClient): { client: RedisStoreClient; reads: () => number } {
  let reads = 0;
  const wrap = (target: RedisStoreClient): RedisStoreClient =>
    new Proxy(target, {
      get(object, property) {
        if (property === 'hGetAll') {
          return (key: string) => {
            reads++;
            return object.hGetAll(key);
          };
        }
        if (property === 'withCommandOptions') {
          return (options: Parameters<RedisStoreClient['withCommandOptions']>[0]) => wrap(object.withCommandOptions(options));
        }
        const value: unknown = Reflect.get(object, property, object);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
      },
    });
  return { client: wrap(client), reads: () => reads };
}

function record(data: Record<string, unknown>, lifetime = 60_000): SessionRecord {
  const now = Date.now();
  return { data, createdAt: now, touchedAt: now, expiresAt: now + lifetime };
}

function patchOf(set: Record<string, unknown>, unset: string[] = []) {
  const now = Date.now();
  return { set, unset, touchedAt: now, expiresAt: now + 60_000 };
}

describeWithService('redis').each(['localCache', 'clientSideCache'] as const)('RedisStore with Redis client-side caching (%s, two instances)', (flavour) => {
  let clientA: CachingClient;
  let clientB: CachingClient;
  let admin: Awaited<ReturnType<typeof createClient>>;
  let storeA: RedisStore;
  let storeB: RedisStore;
  let readsB: () => number;
  let prefix: string;
  let counter = 0;
  const newKey = (): string => `key-${++counter}`;
  /** What the reader must do after another instance's write before it reads (see the file comment). */
  const afterWrite = async (reader: CachingClient): Promise<void> => {
    if (flavour === 'clientSideCache') await reader.ping();
  };

  beforeAll(async () => {
    prefix = `${uniqueName('csc')}:`;
    clientA = await cachingClient(flavour);
    clientB = await cachingClient(flavour);
    admin = createClient({ url: REDIS_URL });
    admin.on('error', () => undefined);
    await admin.connect();
    const localCache = flavour === 'localCache';
    storeA = new RedisStore({ client: clientA, prefix, localCache });
    const countedB = countingReads(clientB);
    readsB = countedB.reads;
    storeB = new RedisStore({ client: countedB.client, prefix, localCache });
  });

  afterAll(async () => {
    for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await admin.del(keys);
    }
    await Promise.all([storeA.close(), storeB.close()]);
    await Promise.all([clientA.close(), clientB.close(), admin.close()]);
  });

  it('serves a second read of an unchanged session from memory, without asking Redis', async () => {
    const key = newKey();
    await storeA.set(key, record({ user: { id: 'alice' } }));
    await expect(storeB.get(key)).resolves.toMatchObject({ data: { user: { id: 'alice' } } });
    const readsBefore = readsB();
    const hitsBefore = flavour === 'clientSideCache' ? clientB.clientSideCache!.stats().hitCount : 0;
    for (let index = 0; index < 5; index++) {
      await expect(storeB.get(key)).resolves.toMatchObject({ data: { user: { id: 'alice' } } });
    }
    if (flavour === 'localCache') expect(readsB() - readsBefore).toBe(0);
    else expect(clientB.clientSideCache!.stats().hitCount - hitsBefore).toBe(5);
  });

  it("sees another instance's change, removal of a key and destroy on its next read", async () => {
    const key = newKey();
    await storeA.set(key, record({ user: { id: 'alice' }, cart: ['book'] }));
    await storeB.get(key);
    await storeB.get(key); // cached now

    await expect(storeA.update(key, patchOf({ cart: ['book', 'pen'] }))).resolves.toBe(true);
    await afterWrite(clientB);
    await expect(storeB.get(key)).resolves.toMatchObject({ data: { user: { id: 'alice' }, cart: ['book', 'pen'] } });

    await storeB.get(key);
    await expect(storeA.update(key, patchOf({}, ['cart']))).resolves.toBe(true);
    await afterWrite(clientB);
    const afterUnset = await storeB.get(key);
    expect(afterUnset?.data).toEqual({ user: { id: 'alice' } });

    await storeB.get(key);
    await storeA.destroy(key);
    await afterWrite(clientB);
    await expect(storeB.get(key)).resolves.toBeUndefined();
  });

  it('sees its own writes at once, without waiting for Redis to invalidate', async () => {
    const key = newKey();
    await storeB.set(key, record({ visits: 1 }));
    for (let visits = 1; visits <= 20; visits++) {
      const current = await storeB.get(key);
      expect(current?.data.visits).toBe(visits);
      await expect(storeB.update(key, patchOf({ visits: visits + 1 }))).resolves.toBe(true);
    }
    await storeB.destroy(key);
    await expect(storeB.get(key)).resolves.toBeUndefined();
  });

  it('loses no update when two instances take turns incrementing through their caches', async () => {
    const key = newKey();
    await storeA.set(key, record({ visits: 0 }));
    const stores: Array<[RedisStore, CachingClient]> = [
      [storeA, clientA],
      [storeB, clientB],
    ];
    for (let turn = 0; turn < 40; turn++) {
      const [store, client] = stores[turn % 2];
      await afterWrite(client);
      const current = await store.get(key);
      expect(current?.data.visits).toBe(turn);
      await store.update(key, patchOf({ visits: turn + 1 }));
    }
  });

  it('does not serve a cached session once it has expired by the application clock', async () => {
    const key = newKey();
    await storeA.set(key, record({ user: { id: 'alice' } }, 1_000));
    await expect(storeB.get(key)).resolves.toBeDefined();
    await expect(storeB.get(key)).resolves.toBeDefined(); // from the cache
    await sleep(1_100);
    await expect(storeB.get(key)).resolves.toBeUndefined();
  });

  it('drops its cache when its connection drops: a session destroyed meanwhile is not served', async () => {
    const key = newKey();
    await storeA.set(key, record({ user: { id: 'alice' } }));
    await storeB.get(key);
    await storeB.get(key); // cached now
    const idB = await clientB.clientId();
    // Destroyed while B is cut off: the invalidation message cannot reach B.
    await admin.sendCommand(['CLIENT', 'KILL', 'ID', String(idB)]);
    await admin.del(`${prefix}${key}`);

    const deadline = Date.now() + 5_000;
    let seen: SessionRecord | undefined | 'error' = 'error';
    while (Date.now() < deadline) {
      try {
        seen = await storeB.get(key);
        break;
      } catch {
        await sleep(50); // reconnecting: a 503 for this request, never the stale copy
      }
    }
    expect(seen).toBeUndefined();
  });
});

/**
 * The local cache when its connection stops delivering: Redis's invalidation messages are held
 * with everything else, so a copy the cache holds may be one another instance has since destroyed
 * (a logout, a revocation). A copy is served only once a PING written after the read began is
 * answered, so a held invalidation holds the read with it: it is never answered from the stale
 * copy, it sees the destroy once the connection delivers again, or it fails (503) at the
 * operation timeout. The client has the options RedisStore recommends.
 */
describeWithService('redis')('RedisStore localCache when its connection stops answering', () => {
  const OPERATION_TIMEOUT = 300;
  let proxy: TcpProxy;
  let client: CachingClient;
  let admin: Awaited<ReturnType<typeof createClient>>;
  let store: RedisStore;
  let elsewhere: RedisStore;
  let reads: () => number;
  let prefix: string;

  beforeAll(async () => {
    prefix = `${uniqueName('csc')}:`;
    proxy = await new TcpProxy(6379).start();
    client = createClient({ ...partitionReadyRedisOptions(proxy.port), RESP: 3, emitInvalidate: true });
    client.on('error', () => undefined);
    await client.connect();
    admin = createClient({ url: REDIS_URL });
    admin.on('error', () => undefined);
    await admin.connect();
    const counted = countingReads(client);
    reads = counted.reads;
    store = new RedisStore({ client: counted.client, prefix, localCache: true, operationTimeout: OPERATION_TIMEOUT });
    // Another instance, on a connection the partition does not touch.
    elsewhere = new RedisStore({ client: admin, prefix });
  });

  afterAll(async () => {
    proxy.heal();
    await proxy.released();
    await store.close();
    await client.close();
    await proxy.stop();
    for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await admin.del(keys);
    }
    await admin.close();
  });

  it('holds a read while the invalidation is held, and serves the destroy once it arrives', async () => {
    const key = 'held-invalidation';
    await elsewhere.set(key, record({ user: { id: 'alice' } }));
    await store.get(key);
    const readsBefore = reads();
    await expect(store.get(key)).resolves.toBeDefined(); // from memory, confirmed
    expect(reads()).toBe(readsBefore);

    proxy.freeze();
    await elsewhere.destroy(key); // its invalidation is now held on the frozen connection
    const read = store.get(key);
    await sleep(OPERATION_TIMEOUT / 3);
    proxy.heal(); // everything held, the invalidation first, is delivered now
    await expect(read).resolves.toBeUndefined();
  });

  it('never serves a copy destroyed during the partition, and serves the current state within a second of each heal, three times', async () => {
    const detections: number[] = [];
    const recoveries: number[] = [];
    for (let round = 0; round < 3; round++) {
      const key = `revoked-${round}`;
      await elsewhere.set(key, record({ user: { id: 'alice' } }));
      await expect(store.get(key)).resolves.toMatchObject({ data: { user: { id: 'alice' } } });
      const readsBefore = reads();
      await expect(store.get(key)).resolves.toMatchObject({ data: { user: { id: 'alice' } } });
      expect(reads()).toBe(readsBefore); // served from memory

      proxy.freeze();
      const frozenAt = performance.now();
      // Signed out on another instance: the invalidation is held by the partition.
      await elsewhere.destroy(key);

      // Every read waits for its confirming PING, which the partition holds: none is answered
      // from the copy; each fails (503) within the operation timeout.
      let refusedFrom: number | undefined;
      const served: unknown[] = [];
      while (performance.now() - frozenAt < 2_000) {
        const startedAt = performance.now();
        try {
          served.push(await store.get(key));
        } catch (error) {
          expect(error).toBeInstanceOf(SessionStoreError);
          refusedFrom ??= performance.now() - startedAt;
        }
        await sleep(20);
      }
      expect(served).toEqual([]);
      expect(refusedFrom).toBeDefined();
      detections.push(Math.round(refusedFrom!));

      proxy.heal({ heldConnectionsAfterMs: 1_500 });
      const healedAt = performance.now();
      let answer: { seen: SessionRecord | undefined } | undefined;
      while (answer === undefined && performance.now() - healedAt < 5_000) {
        answer = await store.get(key).then(
          (seen) => ({ seen }),
          () => sleep(5).then(() => undefined),
        );
      }
      recoveries.push(Math.round(performance.now() - healedAt));
      expect(answer).toEqual({ seen: undefined }); // the destroy, not the old copy
      await proxy.released();
    }
    console.info(`[redis localCache] first read in the partition failed after ${detections.join(', ')} ms; current state served ${recoveries.join(', ')} ms after the heal`);
    // The operation timeout (plus timer slack): no read hangs.
    for (const detection of detections) expect(detection).toBeLessThan(OPERATION_TIMEOUT + 100);
    for (const recovery of recoveries) expect(recovery).toBeLessThan(1_000);
  }, 30_000);
});

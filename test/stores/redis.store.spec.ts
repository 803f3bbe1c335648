import { createServer } from 'node:net';
import { createClient, createCluster, RESP_TYPES } from 'redis';
import { SessionConfigError, SessionStoreError, type SessionOwner, type SessionPatch, type SessionRecord } from '@app/session';
import { RedisStore, type RedisStoreClient, type RedisStoreOptions } from '@app/session';
import { describeWithService, uniqueName } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { sleep } from '../support/test-stores';
import { newKey, runStoreContract } from './store-contract';

const REDIS_URL = 'redis://127.0.0.1:6379';
const REDIS_PORT = 6379;

/** A connected client to the real server, as an application creates it. */
async function connectedClient() {
  const client = createClient({ url: REDIS_URL });
  // An application logs these; a test that expects errors checks the store's rejections instead.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

type Client = Awaited<ReturnType<typeof connectedClient>>;

/** Deletes every key under `prefix` (SCAN + DEL), so a run leaves nothing behind. */
async function deleteKeysUnder(client: Client, prefix: string): Promise<void> {
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if (keys.length > 0) await client.del(keys);
  }
}

async function keysUnder(client: Client, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) found.push(...keys);
  return found.sort();
}

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  return { data: { user: { id: 'alice' }, visits: 1 }, createdAt: now, touchedAt: now, expiresAt: now + 60_000, ...overrides };
}

function patch(overrides: Partial<SessionPatch> = {}): SessionPatch {
  return { set: {}, unset: [], touchedAt: Date.now(), expiresAt: Date.now() + 120_000, ...overrides };
}

function owner(userId: string, overrides: Partial<SessionOwner> = {}): SessionOwner {
  return { userId, ip: '198.51.100.4', userAgent: 'Test/1.0', endsBy: Date.now() + 3_600_000, ...overrides };
}

/** Where the store keeps a user's index, worked out independently of the store's code. */
function indexKeyOf(prefix: string, userId: string): string {
  return `${prefix}user:{${Buffer.from(userId, 'utf8').toString('base64url')}}`;
}

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/**
 * The client as the store sees it, with every call that goes to the server recorded by name:
 * each node-redis command method sends one command and awaits its one reply, so a recorded call is
 * one round trip.
 */
function countingClient(client: RedisStoreClient): { client: RedisStoreClient; calls: string[] } {
  const calls: string[] = [];
  const wrap = (target: RedisStoreClient): RedisStoreClient =>
    new Proxy(target, {
      get(object, property) {
        const value: unknown = Reflect.get(object, property, object);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const result: unknown = value.apply(object, args);
          if (property === 'withCommandOptions') return wrap(result as RedisStoreClient);
          if (typeof (result as Promise<unknown> | undefined)?.then === 'function') calls.push(String(property));
          return result;
        };
      },
    });
  return { client: wrap(client), calls };
}

/** The client as the store sees it, running `hook` before each `command` is sent. */
function interceptingClient(client: RedisStoreClient, command: string, hook: () => Promise<void>): RedisStoreClient {
  const wrap = (target: RedisStoreClient): RedisStoreClient =>
    new Proxy(target, {
      get(object, property) {
        const value: unknown = Reflect.get(object, property, object);
        if (typeof value !== 'function') return value;
        if (property === 'withCommandOptions') {
          return (options: Parameters<RedisStoreClient['withCommandOptions']>[0]) => wrap(object.withCommandOptions(options));
        }
        if (property === command) {
          return async (...args: unknown[]) => {
            await hook();
            return (value as (...args: unknown[]) => unknown).apply(object, args);
          };
        }
        return (value as (...args: unknown[]) => unknown).bind(object);
      },
    });
  return wrap(client);
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A client whose connection goes through `proxy`, reconnecting quickly (see redis.fault.e2e-spec.ts). */
async function clientThrough(proxy: TcpProxy) {
  const proxied = createClient({ socket: { host: '127.0.0.1', port: proxy.port, reconnectStrategy: () => 50, connectTimeout: 1_000 } });
  proxied.on('error', () => undefined);
  await proxied.connect();
  return proxied;
}

describeWithService('redis')('RedisStore honours the store contract', () => {
  const prefix = `${uniqueName('sess')}:`;
  let client: Client;

  runStoreContract({
    create: async () => {
      client = await connectedClient();
      return new RedisStore({ client, prefix });
    },
    behindProxy: async () => {
      const operationTimeout = 300;
      const proxy = await new TcpProxy(REDIS_PORT).start();
      const proxied = await clientThrough(proxy);
      return {
        store: new RedisStore({ client: proxied, prefix, operationTimeout }),
        proxy,
        operationTimeout,
        close: async () => {
          // destroy, not close: a frozen connection would never answer a graceful close.
          proxied.destroy();
          await proxy.stop();
        },
      };
    },
    cleanup: async (store) => {
      await store.close?.();
      await deleteKeysUnder(client, prefix);
      await client.close();
    },
  });
});

describe('RedisStore options', () => {
  // Only the shape of the client is checked at construction: no server is needed.
  const client = createClient({ url: REDIS_URL });

  it('defaults the prefix and the operation timeout', () => {
    expect(() => new RedisStore({ client })).not.toThrow();
  });

  it('lists every problem in one SessionConfigError', () => {
    const attempt = () =>
      new RedisStore({ client: {} as RedisStoreClient, prefix: 42 as unknown as string, operationTimeout: 0 });
    expect(attempt).toThrow(SessionConfigError);
    try {
      attempt();
    } catch (error) {
      expect((error as SessionConfigError).problems).toEqual([
        expect.stringMatching(/^RedisStore client: must be a node-redis client .*missing hGetAll, del, evalSha, eval, withCommandOptions/),
        expect.stringMatching(/^RedisStore prefix: must be a string/),
        'RedisStore operationTimeout must be a positive whole number of milliseconds (got 0)',
      ]);
    }
  });

  it.each([
    ['no client', {}, /RedisStore client: required/],
    ['a null client', { client: null }, /RedisStore client: required/],
    ['a client without node-redis v5 methods (ioredis, node-redis v4)', { client: { get: () => undefined } }, /missing hGetAll/],
    ['a fractional timeout', { client, operationTimeout: 1.5 }, /operationTimeout/],
    ['a negative timeout', { client, operationTimeout: -1 }, /operationTimeout/],
  ])('refuses %s', (_case, options, message) => {
    expect(() => new RedisStore(options as unknown as RedisStoreOptions)).toThrow(message);
  });

  it('refuses options that are not an object', () => {
    expect(() => new RedisStore(undefined as unknown as RedisStoreOptions)).toThrow(SessionConfigError);
  });

  it('takes a cluster client, but refuses localCache with it, saying why', () => {
    // Never connected: only the shape is checked. The cluster itself: test/multi-instance.
    const cluster = createCluster({ rootNodes: [{ url: REDIS_URL }], RESP: 3 });
    expect(() => new RedisStore({ client: cluster })).not.toThrow();
    expect(() => new RedisStore({ client: cluster, localCache: true })).toThrow(
      /RedisStore localCache: not supported with a Redis Cluster client \(createCluster\(\)\)/,
    );
  });
});

describeWithService('redis')('RedisStore on a real Redis server', () => {
  const prefix = `${uniqueName('sess')}:`;
  let client: Client;
  let store: RedisStore;

  beforeAll(async () => {
    client = await connectedClient();
    store = new RedisStore({ client, prefix });
  });

  afterAll(async () => {
    await deleteKeysUnder(client, prefix);
    await client.close();
  });

  describe('data layout', () => {
    it('keeps one hash per session, named by the prefix and the key given, and nothing else', async () => {
      const keyPrefix = `${prefix}layout:`;
      const layoutStore = new RedisStore({ client, prefix: keyPrefix });
      const key = newKey();
      await layoutStore.set(key, record({ cookieMaxAge: 3_600_000 }));

      expect(await keysUnder(client, keyPrefix)).toEqual([`${keyPrefix}${key}`]);
      expect(await client.type(`${keyPrefix}${key}`)).toBe('hash');
      expect(Object.keys(await client.hGetAll(`${keyPrefix}${key}`)).sort()).toEqual(['c', 'd:user', 'd:visits', 'e', 'm', 'r', 't']);
    });

    it('stores each data key literally as its own field, holding JSON', async () => {
      const key = newKey();
      const data = { 'a.b': 1, '$.x': 'two', "it's": [3], 'x"y': { z: null }, 'ü ✓': true, '': 'empty', __proto__: 'plain' };
      await store.set(key, record({ data: JSON.parse(JSON.stringify(data)) as Record<string, unknown> }));

      const fields = await client.hGetAll(`${prefix}${key}`);
      expect(fields['d:a.b']).toBe('1');
      expect(fields['d:$.x']).toBe('"two"');
      expect(fields["d:it's"]).toBe('[3]');
      expect(fields['d:x"y']).toBe('{"z":null}');
      expect(fields['d:ü ✓']).toBe('true');
      expect(fields['d:']).toBe('"empty"');
      const loaded = await store.get(key);
      expect(Object.getPrototypeOf(loaded!.data)).toBe(Object.prototype);
      expect(Object.keys(loaded!.data).sort()).toEqual(['', '$.x', 'a.b', 'it\'s', 'x"y', 'ü ✓'].sort());
    });

    it('keeps a data key named "__proto__" as a plain key', async () => {
      const key = newKey();
      const data = JSON.parse('{"__proto__": {"admin": true}, "name": "x"}') as Record<string, unknown>;
      await store.set(key, record({ data }));
      const loaded = await store.get(key);
      expect(Object.getPrototypeOf(loaded!.data)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(loaded!.data, '__proto__')?.value).toEqual({ admin: true });
      expect((loaded!.data as { admin?: unknown }).admin).toBeUndefined();
    });

    it('gives timestamps back as numbers and values as their JSON values', async () => {
      const key = newKey();
      const stored = record({ data: { n: 1.5, s: '1.5', b: false, nil: null, list: ['1', 2] }, cookieMaxAge: 60_000 });
      await store.set(key, stored);
      const loaded = await store.get(key);
      expect(loaded).toEqual({ ...stored, revision: 1 });
      for (const field of ['createdAt', 'touchedAt', 'expiresAt', 'cookieMaxAge'] as const) expect(typeof loaded![field]).toBe('number');
    });

    it('drops data keys whose value JSON cannot represent, as JSON.stringify does', async () => {
      const key = newKey();
      await store.set(key, record({ data: { kept: 1, gone: undefined } }));
      await store.update(key, patch({ set: { kept: undefined, added: 2 } }));
      await expect(store.get(key)).resolves.toMatchObject({ data: { added: 2 } });
      expect(Object.keys((await store.get(key))!.data)).toEqual(['added']);
    });

    it('handles sessions with thousands of keys (more arguments than one Lua unpack() takes)', async () => {
      const key = newKey();
      const many = (tag: string) => Object.fromEntries(Array.from({ length: 3_000 }, (_, index) => [`${tag}${index}`, index]));
      await store.set(key, record({ data: many('old') }));
      await expect(store.update(key, patch({ set: many('new'), unset: Object.keys(many('old')) }))).resolves.toBe(true);
      await expect(store.get(key)).resolves.toMatchObject({ data: many('new') });
      expect(await client.hLen(`${prefix}${key}`)).toBe(3_000 + 4);
    });

    it('reports a hash it did not write as a store failure, not as a session', async () => {
      const key = newKey();
      await client.hSet(`${prefix}${key}`, { c: '1', t: '1', e: 'soon' });
      await expect(store.get(key)).rejects.toThrow(SessionStoreError);
      await client.set(`${prefix}${key}`, 'a string, not a hash');
      await expect(store.get(key)).rejects.toThrow(SessionStoreError);
    });
  });

  describe('native expiry', () => {
    it('gives the hash a TTL that ends at expiresAt', async () => {
      const key = newKey();
      const expiresAt = Date.now() + 60_000;
      await store.set(key, record({ expiresAt }));
      const ttl = await client.pTTL(`${prefix}${key}`);
      expect(ttl).toBeGreaterThan(0);
      expect(Math.abs(ttl - (expiresAt - Date.now()))).toBeLessThan(1_000);
    });

    it('moves the TTL with update and touch', async () => {
      const key = newKey();
      const stored = record();
      await store.set(key, stored);

      await store.update(key, patch({ expiresAt: Date.now() + 300_000 }));
      expect(Math.abs((await client.pTTL(`${prefix}${key}`)) - 300_000)).toBeLessThan(1_000);

      await store.touch(key, { ...stored, touchedAt: Date.now(), expiresAt: Date.now() + 600_000 });
      expect(Math.abs((await client.pTTL(`${prefix}${key}`)) - 600_000)).toBeLessThan(1_000);
    });

    it('leaves nothing behind for a record set with expiresAt in the past', async () => {
      const key = newKey();
      await store.set(key, record());
      await store.set(key, record({ expiresAt: Date.now() - 1 }));
      expect(await client.exists(`${prefix}${key}`)).toBe(0);
    });

    it('neither updates nor touches a record Redis still holds but whose expiresAt has passed (clock skew)', async () => {
      const key = newKey();
      const redisKey = `${prefix}${key}`;
      const past = Date.now() - 1_000;
      // Written by hand with a TTL still running, as when Redis's clock lags the application's.
      await client.hSet(redisKey, { c: String(past), t: String(past), e: String(past), 'd:visits': '1' });
      await client.pExpire(redisKey, 60_000);

      await expect(store.update(key, patch({ set: { visits: 2 } }))).resolves.toBe(false);
      await store.touch(key, record());
      await expect(store.get(key)).resolves.toBeUndefined();
      expect(await client.hGetAll(redisKey)).toEqual({ c: String(past), t: String(past), e: String(past), 'd:visits': '1' });
    });
  });

  describe('round trips per operation', () => {
    it('costs one command each for an anonymous session: HGETALL, EVALSHA (set, update, touch), DEL', async () => {
      const counted = countingClient(client);
      const countingStore = new RedisStore({ client: counted.client, prefix });
      const key = newKey();
      // Warm up: the first script call on a server that has not seen the script costs a NOSCRIPT reply.
      await countingStore.set(key, record());
      await countingStore.update(key, patch());
      await countingStore.touch(key, record());

      const costOf = async (operation: () => Promise<unknown>) => {
        counted.calls.length = 0;
        await operation();
        return [...counted.calls];
      };
      expect(await costOf(() => countingStore.get(key))).toEqual(['hGetAll']);
      expect(await costOf(() => countingStore.set(key, record()))).toEqual(['evalSha']);
      expect(await costOf(() => countingStore.update(key, patch({ set: { a: 1 }, unset: ['visits'] })))).toEqual(['evalSha']);
      expect(await costOf(() => countingStore.touch(key, record()))).toEqual(['evalSha']);
      expect(await costOf(() => countingStore.destroy(key))).toEqual(['del']);
      expect(await costOf(() => countingStore.update(key, patch()))).toEqual(['evalSha']);
      expect(await costOf(() => countingStore.set(key, record({ expiresAt: Date.now() - 1 })))).toEqual(['del']);
    });

    it('for a signed-in session, costs one more round trip only where the owner is written, and lists with two', async () => {
      const counted = countingClient(client);
      const countingStore = new RedisStore({ client: counted.client, prefix });
      const userId = `counted-${newKey()}`;
      const [key, other] = [newKey(), newKey()];
      // Warm up every script (the index ones included: listing a stale entry uses the read script).
      await countingStore.set(key, record({ owner: owner(userId) }));
      await countingStore.update(key, patch({ owner: owner(userId) }));
      await countingStore.touch(key, record({ owner: owner(userId) }));
      await client.zAdd(indexKeyOf(prefix, userId), { score: Date.now() + 60_000, value: other });
      await countingStore.listByUser(userId);

      const costOf = async (operation: () => Promise<unknown>) => {
        counted.calls.length = 0;
        await operation();
        return [...counted.calls];
      };
      // The first index entry goes with the hash's script, the second after its reply: 2 round trips.
      expect(await costOf(() => countingStore.set(key, record({ owner: owner(userId) })))).toEqual(['evalSha', 'evalSha', 'evalSha']);
      expect(await costOf(() => countingStore.set(other, record({ owner: owner(userId) })))).toEqual(['evalSha', 'evalSha', 'evalSha']);
      expect(await costOf(() => countingStore.get(key))).toEqual(['hGetAll']);
      expect(await costOf(() => countingStore.update(key, patch({ set: { a: 1 } })))).toEqual(['evalSha']);
      expect(await costOf(() => countingStore.update(key, patch({ owner: null })))).toEqual(['evalSha']);
      expect(await costOf(() => countingStore.update(key, patch({ owner: owner(userId) })))).toEqual(['evalSha', 'evalSha', 'evalSha']);
      expect(await costOf(() => countingStore.touch(key, record()))).toEqual(['evalSha']);
      // ZRANGE, then the HGETALLs in parallel.
      expect(await costOf(() => countingStore.listByUser(userId))).toEqual(['zRange', 'hGetAll', 'hGetAll']);
      expect(await costOf(() => countingStore.destroy(other))).toEqual(['del']);
      // A stale entry adds its removal and a re-read past any cache.
      expect(await costOf(() => countingStore.listByUser(userId))).toEqual(['zRange', 'hGetAll', 'hGetAll', 'zRem', 'evalSha']);
      // An owner change that finds no session does not enter it twice.
      expect(await costOf(() => countingStore.update(other, patch({ owner: owner(userId) })))).toEqual(['evalSha', 'evalSha']);
    });

    it('loads a script the server does not know with one extra round trip (after SCRIPT FLUSH)', async () => {
      const counted = countingClient(client);
      const countingStore = new RedisStore({ client: counted.client, prefix });
      const key = newKey();
      await countingStore.set(key, record({ data: { a: 1 } }));
      await client.scriptFlush();

      counted.calls.length = 0;
      await expect(countingStore.update(key, patch({ set: { b: 2 } }))).resolves.toBe(true);
      expect(counted.calls).toEqual(['evalSha', 'eval']);
      counted.calls.length = 0;
      await expect(countingStore.update(key, patch({ set: { c: 3 } }))).resolves.toBe(true);
      expect(counted.calls).toEqual(['evalSha']);
      await expect(countingStore.get(key)).resolves.toMatchObject({ data: { a: 1, b: 2, c: 3 } });
    });
  });

  describe('per-user index', () => {
    it('keeps a user\'s sessions in a sorted set named by the user id, base64url-encoded in a hash tag', async () => {
      const keyPrefix = `${prefix}index:`;
      const layoutStore = new RedisStore({ client, prefix: keyPrefix });
      const userId = 'ü:{x}*} 日本 🎉 "1"';
      const key = newKey();
      const stored = record({ owner: owner(userId) });
      await layoutStore.set(key, stored);

      const indexKey = `${keyPrefix}user:{${Buffer.from(userId, 'utf8').toString('base64url')}}`;
      expect(await keysUnder(client, keyPrefix)).toEqual([`${keyPrefix}${key}`, indexKey].sort());
      // One hash tag, holding the encoded id and nothing else: a cluster puts the whole index in
      // one slot whatever braces the id holds.
      expect(indexKey.slice(keyPrefix.length)).toMatch(/^user:\{[A-Za-z0-9_-]+\}$/);
      expect(await client.type(indexKey)).toBe('zset');
      expect(await client.zRange(indexKey, 0, -1)).toEqual([key]);
      // The owner lives in the session's own hash, one metadata field each.
      const fields = await client.hGetAll(`${keyPrefix}${key}`);
      expect(Object.keys(fields).sort()).toEqual(['a', 'b', 'c', 'd:user', 'd:visits', 'e', 'i', 'r', 't', 'u']);
      expect(fields).toMatchObject({ u: userId, i: '198.51.100.4', a: 'Test/1.0', b: String(stored.owner!.endsBy) });
      await expect(layoutStore.listByUser(userId)).resolves.toEqual([{ key, record: { ...stored, revision: 1 } }]);
      // Ids that only differ in what an encoding could fold together stay apart.
      await expect(layoutStore.listByUser('ü:{x}*} 日本 🎉 "1" ')).resolves.toEqual([]);
      await expect(layoutStore.listByUser('u\u0308:{x}*} 日本 🎉 "1"')).resolves.toEqual([]);
    });

    it('writes no ip or user agent field for an owner without them', async () => {
      const key = newKey();
      const stored = record({ owner: { userId: `bare-${newKey()}`, endsBy: Date.now() + 60_000 } });
      await store.set(key, stored);
      expect(Object.keys(await client.hGetAll(`${prefix}${key}`)).sort()).toEqual(['b', 'c', 'd:user', 'd:visits', 'e', 'r', 't', 'u']);
      const loaded = await store.get(key);
      expect(loaded).toEqual({ ...stored, revision: 1 });
      expect(Object.keys(loaded!.owner!).sort()).toEqual(['endsBy', 'userId']);
    });

    it('gives the index a TTL reaching owner.endsBy, never shortened by a later session that ends sooner', async () => {
      const userId = `ttl-${newKey()}`;
      const indexKey = indexKeyOf(prefix, userId);
      const expectTtlNear = async (endsBy: number) => {
        const ttl = await client.pTTL(indexKey);
        expect(Math.abs(ttl - (endsBy - Date.now()))).toBeLessThan(1_000);
      };
      const first = newKey();
      const endsBy = Date.now() + 3_600_000;
      await store.set(first, record({ expiresAt: Date.now() + 60_000, owner: owner(userId, { endsBy }) }));
      await expectTtlNear(endsBy);
      // The session's own hash still expires at expiresAt: only the index looks as far as endsBy.
      expect(Math.abs((await client.pTTL(`${prefix}${first}`)) - 60_000)).toBeLessThan(1_000);

      const second = newKey();
      await store.set(second, record({ owner: owner(userId, { endsBy: Date.now() + 120_000 }) }));
      await expectTtlNear(endsBy);
      await store.update(second, patch({ owner: owner(userId, { endsBy: Date.now() + 90_000 }) }));
      await expectTtlNear(endsBy);

      const later = Date.now() + 7_200_000;
      await store.set(newKey(), record({ owner: owner(userId, { endsBy: later }) }));
      await expectTtlNear(later);
      expect(await client.zCard(indexKey)).toBe(3);
    });

    it('drops entries whose session ended (past endsBy) whenever it enters one, so the index stays small', async () => {
      const userId = `ended-${newKey()}`;
      const indexKey = indexKeyOf(prefix, userId);
      await client.zAdd(indexKey, [
        { score: Date.now() - 1_000, value: 'ended-long-ago' },
        { score: Date.now() + 60_000, value: 'not-ended-yet' },
      ]);
      const key = newKey();
      await store.set(key, record({ owner: owner(userId) }));
      expect((await client.zRange(indexKey, 0, -1)).sort()).toEqual(['not-ended-yet', key].sort());
    });

    it('drops from the index, when listing, the entries whose session is gone, expired or someone else\'s', async () => {
      const userId = `prune-${newKey()}`;
      const indexKey = indexKeyOf(prefix, userId);
      const [kept, destroyed, replaced, moved, signedOut, anonymous] = Array.from({ length: 6 }, () => newKey());
      for (const key of [kept, destroyed, replaced, moved, signedOut, anonymous]) await store.set(key, record({ owner: owner(userId) }));
      await store.destroy(destroyed);
      await store.set(replaced, record({ owner: owner(`other-${userId}`) }));
      await store.update(moved, patch({ owner: owner(`other-${userId}`) }));
      await store.update(signedOut, patch({ owner: null }));
      await store.set(anonymous, record());
      // Past expiresAt by the application's clock, though Redis still holds it (clock skew).
      const expired = newKey();
      const past = Date.now() - 1_000;
      await client.hSet(`${prefix}${expired}`, { c: String(past), t: String(past), e: String(past), u: userId, b: String(Date.now() + 60_000) });
      await client.pExpire(`${prefix}${expired}`, 60_000);
      await client.zAdd(indexKey, [
        { score: Date.now() + 60_000, value: expired },
        { score: Date.now() + 60_000, value: 'never-a-session' },
      ]);
      expect(await client.zCard(indexKey)).toBe(8);

      await expect(store.listByUser(userId)).resolves.toEqual([{ key: kept, record: expect.objectContaining({ owner: expect.objectContaining({ userId }) }) }]);
      expect(await client.zRange(indexKey, 0, -1)).toEqual([kept]);
      // The other user's entries are theirs to keep.
      expect((await store.listByUser(`other-${userId}`)).map((found) => found.key).sort()).toEqual([replaced, moved].sort());
    });

    it('puts back an entry it dropped when a racing write gave the session to the user meanwhile', async () => {
      const userId = `race-${newKey()}`;
      const indexKey = indexKeyOf(prefix, userId);
      const key = newKey();
      // The entry is there, the hash still says someone else: what a listing sees while a sign-in
      // is in flight.
      await store.set(key, record({ owner: owner(`before-${userId}`) }));
      await client.zAdd(indexKey, { score: Date.now() + 60_000, value: key });
      let raced = false;
      // The sign-in completes (hash and both index entries) just before the listing's ZREM runs.
      const racing = interceptingClient(client, 'zRem', async () => {
        if (raced) return;
        raced = true;
        await store.set(key, record({ owner: owner(userId) }));
      });
      const listing = new RedisStore({ client: racing, prefix });

      await expect(listing.listByUser(userId)).resolves.toEqual([{ key, record: expect.objectContaining({ owner: expect.objectContaining({ userId }) }) }]);
      expect(raced).toBe(true);
      expect(await client.zRange(indexKey, 0, -1)).toEqual([key]);
    });

    it('refuses a user id that is empty, longer than 255 characters, not a string or not well-formed', async () => {
      const key = newKey();
      await store.set(key, record({ owner: owner(`valid-${newKey()}`) }));
      const before = await client.hGetAll(`${prefix}${key}`);
      for (const userId of ['', 'x'.repeat(256), '🎉'.repeat(256), 'lone \uD800 surrogate', 42 as unknown as string]) {
        const fresh = newKey();
        await expect(store.set(fresh, record({ owner: owner(userId) }))).rejects.toThrow(/owner\.userId must be a well-formed string of 1 to 255 characters/);
        expect(await client.exists(`${prefix}${fresh}`)).toBe(0);
        await expect(store.update(key, patch({ owner: owner(userId) }))).rejects.toThrow(SessionStoreError);
        await expect(store.listByUser(userId)).rejects.toThrow(SessionStoreError);
      }
      expect(await client.hGetAll(`${prefix}${key}`)).toEqual(before);
      // 255 characters, counted as characters: astral ones included.
      const longest = '🎉'.repeat(255);
      const stored = record({ owner: owner(longest) });
      await store.set(key, stored);
      await expect(store.listByUser(longest)).resolves.toEqual([{ key, record: { ...stored, revision: 2 } }]);
    });

    it('refuses an owner whose endsBy, ip or user agent has the wrong type', async () => {
      for (const bad of [{ endsBy: Number.NaN }, { ip: 7 }, { userAgent: {} }] as Array<Partial<SessionOwner>>) {
        const key = newKey();
        await expect(store.set(key, record({ owner: owner(`typed-${newKey()}`, bad) }))).rejects.toThrow(SessionStoreError);
        expect(await client.exists(`${prefix}${key}`)).toBe(0);
      }
    });
  });

  describe('with the client the application configured', () => {
    it.each([2, 3] as const)('reads strings whatever type mapping (Buffers, Maps) a RESP%i client uses', async (RESP) => {
      const own = createClient({ url: REDIS_URL, RESP });
      own.on('error', () => undefined);
      await own.connect();
      try {
        const mapped = own.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.MAP]: Map });
        const mappedStore = new RedisStore({ client: mapped, prefix });
        const key = newKey();
        const stored = record({ data: { text: 'héllo ✓', list: [1, 'two'] }, cookieMaxAge: 5_000 });
        await mappedStore.set(key, stored);
        await expect(mappedStore.get(key)).resolves.toEqual({ ...stored, revision: 1 });
        await expect(mappedStore.update(key, patch({ set: { more: true } }))).resolves.toBe(true);
        await expect(mappedStore.get(key)).resolves.toMatchObject({ data: { text: 'héllo ✓', more: true } });

        // Owners and the index too, a stale entry included (its re-read is a script's reply).
        const userId = `mapped-${RESP}-${newKey()}`;
        const signedIn = record({ owner: owner(userId) });
        const ownedKey = newKey();
        await mappedStore.set(ownedKey, signedIn);
        await client.zAdd(indexKeyOf(prefix, userId), { score: Date.now() + 60_000, value: key });
        await expect(mappedStore.get(ownedKey)).resolves.toEqual({ ...signedIn, revision: 1 });
        await expect(mappedStore.listByUser(userId)).resolves.toEqual([{ key: ownedKey, record: { ...signedIn, revision: 1 } }]);
      } finally {
        await own.close();
      }
    });

    it('close() resolves and leaves the client open: it is the application\'s', async () => {
      const own = await connectedClient();
      const ownStore = new RedisStore({ client: own, prefix });
      await expect(ownStore.close()).resolves.toBeUndefined();
      expect(own.isOpen).toBe(true);
      await expect(own.ping()).resolves.toBe('PONG');
      await own.close();
    });

    it('rejects with SessionStoreError on a client that was never connected or is closed', async () => {
      const neverConnected = new RedisStore({ client: createClient({ url: REDIS_URL }), prefix });
      await expect(neverConnected.get(newKey())).rejects.toThrow(SessionStoreError);

      const closed = await connectedClient();
      await closed.close();
      const closedStore = new RedisStore({ client: closed, prefix });
      for (const operation of [
        () => closedStore.get(newKey()),
        () => closedStore.set(newKey(), record()),
        () => closedStore.update(newKey(), patch()),
        () => closedStore.destroy(newKey()),
        () => closedStore.touch(newKey(), record()),
        () => closedStore.listByUser('someone'),
      ]) {
        await expect(operation()).rejects.toMatchObject({ name: 'SessionStoreError', code: 'SESSION_STORE_FAILED', cause: expect.any(Error) });
      }
    });
  });
});

describeWithService('redis')('RedisStore when Redis goes away', () => {
  const OPERATION_TIMEOUT = 300;
  /** How late a rejection may come past the operation timeout (timers, a loaded CI machine). */
  const SLACK = 700;
  const prefix = `${uniqueName('sess')}:`;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  let admin: Client;
  let proxy: TcpProxy;
  let client: Client;
  let store: RedisStore;

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    admin = await connectedClient();
    proxy = await new TcpProxy(REDIS_PORT).start();
    client = createClient({ socket: { host: '127.0.0.1', port: proxy.port, reconnectStrategy: () => 50, connectTimeout: 1_000 } });
    // An application logs these; the client reconnects by itself.
    client.on('error', () => undefined);
    await client.connect();
    store = new RedisStore({ client, prefix, operationTimeout: OPERATION_TIMEOUT });
  });

  afterEach(async () => {
    proxy.restore();
    await waitUntil(() => client.isReady);
  });

  afterAll(async () => {
    await client.close();
    await proxy.stop();
    await deleteKeysUnder(admin, prefix);
    await admin.close();
    // Late rejections (commands withdrawn or flushed after the timeout won) would show up by now.
    await sleep(100);
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });

  const operations = (key: string): ReadonlyArray<readonly [string, () => Promise<unknown>]> => [
    ['get', () => store.get(key)],
    ['set', () => store.set(key, record())],
    ['update', () => store.update(key, patch({ set: { during: 'outage' } }))],
    ['destroy', () => store.destroy(key)],
    ['touch', () => store.touch(key, record())],
  ];

  /** Runs `operation` and says how it settled and after how long. */
  async function settle(operation: () => Promise<unknown>): Promise<{ error: unknown; elapsed: number }> {
    const startedAt = Date.now();
    try {
      await operation();
      return { error: undefined, elapsed: Date.now() - startedAt };
    } catch (error) {
      return { error, elapsed: Date.now() - startedAt };
    }
  }

  it('every operation rejects with SessionStoreError within the operation timeout while Redis is unreachable', async () => {
    const key = newKey();
    await store.set(key, record());
    proxy.cut();
    await waitUntil(() => !client.isReady);

    for (const [name, operation] of operations(key)) {
      const { error, elapsed } = await settle(operation);
      expect({ name, error }).toMatchObject({ name, error: expect.any(SessionStoreError) });
      expect(elapsed).toBeLessThan(OPERATION_TIMEOUT + SLACK);
    }
  });

  it('operations in flight when the connection drops settle (resolve, or reject with SessionStoreError), none hangs', async () => {
    const keys = Array.from({ length: 10 }, () => newKey());
    await Promise.all(keys.map((key) => store.set(key, record())));

    const startedAt = Date.now();
    const inFlight = keys.flatMap((key) => operations(key).map(([, operation]) => operation()));
    proxy.cut();
    const settled = await Promise.allSettled(inFlight);

    expect(Date.now() - startedAt).toBeLessThan(OPERATION_TIMEOUT + SLACK);
    for (const outcome of settled) {
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(SessionStoreError);
    }
    expect(settled.some((outcome) => outcome.status === 'rejected')).toBe(true);
  });

  it('works again with the same client and store once Redis is reachable, with what was stored before', async () => {
    const key = newKey();
    await store.set(key, record({ data: { before: 'outage' } }));
    proxy.cut();
    await waitUntil(() => !client.isReady);
    await expect(store.get(key)).rejects.toThrow(SessionStoreError);

    proxy.restore();
    await waitUntil(() => client.isReady);

    await expect(store.get(key)).resolves.toMatchObject({ data: { before: 'outage' } });
    await expect(store.update(key, patch({ set: { after: 'outage' } }))).resolves.toBe(true);
    await expect(store.get(key)).resolves.toMatchObject({ data: { before: 'outage', after: 'outage' } });
  });

  it('a write that timed out while Redis was unreachable is not applied later, when it comes back', async () => {
    const key = newKey();
    const replaced = newKey();
    await store.set(replaced, record({ data: { version: 1 } }));
    proxy.cut();
    await waitUntil(() => !client.isReady);

    await expect(store.set(key, record())).rejects.toThrow(SessionStoreError);
    await expect(store.update(replaced, patch({ set: { version: 2 } }))).rejects.toThrow(SessionStoreError);

    proxy.restore();
    await waitUntil(() => client.isReady);
    await sleep(50);
    expect(await admin.exists(`${prefix}${key}`)).toBe(0);
    await expect(store.get(replaced)).resolves.toMatchObject({ data: { version: 1 } });
  });

  it('rejects with SessionStoreError, not a hang, when the client points at a port nothing listens on', async () => {
    const port = await closedPort();
    const nowhere = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: () => 50, connectTimeout: 1_000 } });
    nowhere.on('error', () => undefined);
    // The application may start connecting without waiting: commands then queue while it retries.
    const connecting = nowhere.connect().catch((error: unknown) => error);
    const nowhereStore = new RedisStore({ client: nowhere, prefix, operationTimeout: OPERATION_TIMEOUT });
    try {
      for (const [name, operation] of [
        ['get', () => nowhereStore.get(newKey())],
        ['set', () => nowhereStore.set(newKey(), record())],
        ['update', () => nowhereStore.update(newKey(), patch())],
        ['destroy', () => nowhereStore.destroy(newKey())],
        ['touch', () => nowhereStore.touch(newKey(), record())],
      ] as const) {
        const { error, elapsed } = await settle(operation);
        expect({ name, error }).toMatchObject({ name, error: expect.any(SessionStoreError) });
        expect((error as SessionStoreError).message).toMatch(/timed out after 300 ms/);
        expect(elapsed).toBeLessThan(OPERATION_TIMEOUT + SLACK);
      }
    } finally {
      nowhere.destroy();
      await connecting;
    }
  });
});

describeWithService('redis')('RedisStore revisions', () => {
  const OPERATION_TIMEOUT = 300;
  const prefix = `${uniqueName('sess')}:`;
  let admin: Client;
  let store: RedisStore;

  beforeAll(async () => {
    admin = await connectedClient();
    store = new RedisStore({ client: admin, prefix });
  });

  afterAll(async () => {
    await deleteKeysUnder(admin, prefix);
    await admin.close();
  });

  const revisionField = (key: string) => admin.hGet(`${prefix}${key}`, 'r');

  it('keeps the revision in the hash: 1 on a new key, +1 per update (with or without revision) and per replacing set', async () => {
    const key = newKey();
    await store.set(key, record());
    expect(await revisionField(key)).toBe('1');
    await expect(store.update(key, patch({ set: { a: 1 }, revision: 1 }))).resolves.toBe(true);
    await expect(store.update(key, patch({ set: { a: 2 } }))).resolves.toBe(true);
    expect(await revisionField(key)).toBe('3');
    await store.set(key, record({ data: { replaced: true } }));
    expect(await revisionField(key)).toBe('4');
    await expect(store.get(key)).resolves.toMatchObject({ data: { replaced: true }, revision: 4 });
    // A touch changes no data: the revision stays.
    await store.touch(key, record({ touchedAt: Date.now() + 1_000, expiresAt: Date.now() + 90_000 }));
    expect(await revisionField(key)).toBe('4');
  });

  it('merges an update made on a stale revision while it is live, at one more round trip', async () => {
    const counted = countingClient(admin);
    const countingStore = new RedisStore({ client: counted.client, prefix });
    const key = newKey();
    await countingStore.set(key, record({ data: { base: true } }));
    await countingStore.update(key, patch({ set: { first: 1 }, revision: 1 }));
    counted.calls.length = 0;
    await expect(countingStore.update(key, patch({ set: { second: 2 }, revision: 1 }))).resolves.toBe(true);
    // The script reports the current revision with its refusal: the retry needs no read.
    expect(counted.calls).toEqual(['evalSha', 'evalSha']);
    await expect(store.get(key)).resolves.toMatchObject({ data: { base: true, first: 1, second: 2 }, revision: 3 });
  });

  it('keeps retrying against a writer that always gets in first only until the operation timeout, and sends nothing after it', async () => {
    const key = newKey();
    const redisKey = `${prefix}${key}`;
    await store.set(key, record({ data: { base: true } }));
    let racing = true;
    // Before every script the store sends, another instance moves the revision on.
    const losing = interceptingClient(admin, 'evalSha', async () => {
      if (racing) await admin.hIncrBy(redisKey, 'r', 1);
    });
    const loser = new RedisStore({ client: losing, prefix, operationTimeout: OPERATION_TIMEOUT });
    const startedAt = Date.now();
    await expect(loser.update(key, patch({ set: { lost: true }, revision: 1 }))).rejects.toThrow(`Session store update timed out after ${OPERATION_TIMEOUT} ms`);
    expect(Date.now() - startedAt).toBeLessThan(OPERATION_TIMEOUT + 200);
    // The race ends: a retry sent now would find its revision current and apply.
    racing = false;
    await sleep(200);
    expect(await admin.hGet(redisKey, 'd:lost')).toBeNull();
  });

  it('reads a hash written before revisions as revision 0, and updates it to 1', async () => {
    const key = newKey();
    const redisKey = `${prefix}${key}`;
    const now = Date.now();
    await admin.hSet(redisKey, { c: String(now), t: String(now), e: String(now + 60_000), 'd:visits': '1' });
    await admin.pExpire(redisKey, 60_000);
    await expect(store.get(key)).resolves.toEqual({ data: { visits: 1 }, createdAt: now, touchedAt: now, expiresAt: now + 60_000, revision: 0 });
    await expect(store.update(key, patch({ set: { visits: 2 }, revision: 0 }))).resolves.toBe(true);
    await expect(store.get(key)).resolves.toMatchObject({ data: { visits: 2 }, revision: 1 });
    // Replacing a legacy hash starts from its revision 0 too.
    const other = newKey();
    await admin.hSet(`${prefix}${other}`, { c: String(now), t: String(now), e: String(now + 60_000) });
    await store.set(other, record());
    expect(await revisionField(other)).toBe('1');
  });

  it('refuses a patch revision that is not a whole number, writing nothing', async () => {
    const key = newKey();
    await store.set(key, record());
    for (const revision of [-1, 1.5, Number.NaN, '1' as unknown as number]) {
      await expect(store.update(key, patch({ set: { bad: true }, revision }))).rejects.toThrow(/patch\.revision must be a whole number/);
    }
    await expect(store.get(key)).resolves.toMatchObject({ revision: 1 });
  });

  it('with localCache, answers with the revision of the latest write, its own or another instance\'s', async () => {
    const tracking = createClient({ url: REDIS_URL, RESP: 3, emitInvalidate: true });
    tracking.on('error', () => undefined);
    await tracking.connect();
    const cached = new RedisStore({ client: tracking, prefix, localCache: true });
    try {
      const key = newKey();
      await cached.set(key, record());
      await expect(cached.get(key)).resolves.toMatchObject({ revision: 1 });
      await expect(cached.get(key)).resolves.toMatchObject({ revision: 1 }); // from the cache
      await cached.update(key, patch({ set: { a: 1 }, revision: 1 }));
      await expect(cached.get(key)).resolves.toMatchObject({ data: { a: 1 }, revision: 2 });
      await expect(cached.get(key)).resolves.toMatchObject({ data: { a: 1 }, revision: 2 });
      // Another instance writes: Redis's invalidation drops the cached copy.
      await store.update(key, patch({ set: { a: 2 }, revision: 2 }));
      let seen: number | undefined;
      const deadline = Date.now() + 2_000;
      while ((seen = (await cached.get(key))?.revision) !== 3 && Date.now() < deadline) await sleep(10);
      expect(seen).toBe(3);
      await expect(cached.get(key)).resolves.toMatchObject({ data: { a: 2 }, revision: 3 });
    } finally {
      await cached.close();
      await tracking.close();
    }
  });

  describe('a script held back by a partition that heals late', () => {
    let proxy: TcpProxy;
    let proxied: Client;
    let late: RedisStore;

    beforeEach(async () => {
      proxy = await new TcpProxy(REDIS_PORT).start();
      proxied = await clientThrough(proxy);
      late = new RedisStore({ client: proxied, prefix, operationTimeout: OPERATION_TIMEOUT });
    });

    afterEach(async () => {
      proxied.destroy();
      await proxy.stop();
    });

    /**
     * Sends `update` through the proxy while it is frozen (it times out: the request answers 503),
     * acknowledges a newer write through the direct client, then lets the held script reach Redis.
     */
    async function updateHeldBack(key: string, held: SessionPatch): Promise<void> {
      await late.get(key); // the script goes out on an open connection and is held there
      proxy.freeze();
      await expect(late.update(key, held)).rejects.toThrow(`Session store update timed out after ${OPERATION_TIMEOUT} ms`);
      proxy.heal({ heldConnectionsAfterMs: 200 });
      await expect(store.update(key, patch({ set: { visits: 3 }, revision: 1 }))).resolves.toBe(true);
      await proxy.released();
    }

    it('changes nothing when it names the revision it was made on', async () => {
      const key = newKey();
      await store.set(key, record({ data: { visits: 1 } }));
      await updateHeldBack(key, patch({ set: { visits: 'late' }, revision: 1 }));
      // The held script has reached Redis by now (the control below shows it lands within this).
      await sleep(500);
      await expect(store.get(key)).resolves.toMatchObject({ data: { visits: 3 }, revision: 2 });
      expect(await revisionField(key)).toBe('2');
    });

    it('control: without a revision, the same late script does overwrite the newer write', async () => {
      const key = newKey();
      await store.set(key, record({ data: { visits: 1 } }));
      await updateHeldBack(key, patch({ set: { visits: 'late' } }));
      const deadline = Date.now() + 2_000;
      while ((await store.get(key))?.data.visits !== 'late' && Date.now() < deadline) await sleep(10);
      await expect(store.get(key)).resolves.toMatchObject({ data: { visits: 'late' }, revision: 3 });
    });
  });
});

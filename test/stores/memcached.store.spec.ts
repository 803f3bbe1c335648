import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import * as memjs from 'memjs';
import { SessionStoreError, type SessionPatch, type SessionRecord } from '@app/session';
import { MemcachedStore } from '@app/session';
import { describeWithService, uniqueName } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { sleep, SpyStore } from '../support/test-stores';
import { newKey, runStoreContract } from './store-contract';

const MEMCACHED_PORT = 11211;
const DAY_MS = 24 * 60 * 60 * 1000;
const quiet = { log: () => undefined };

/** A memjs client as an application would create it, failing fast enough for a 2 s operation bound. */
function createClient(port = MEMCACHED_PORT, options: memjs.ClientOptions & memjs.ServerOptions = {}): memjs.Client {
  return memjs.Client.create(`127.0.0.1:${port}`, { timeout: 0.5, retries: 2, logger: quiet, ...options });
}

function record(expiresAt = Date.now() + 60_000, data: Record<string, unknown> = { user: 'alice' }): SessionRecord {
  const now = Date.now();
  return { data, createdAt: now, touchedAt: now, expiresAt };
}

/**
 * A MemcachedStore behind a call recorder, so the keys a test touched can be deleted afterwards:
 * memcached cannot list keys.
 */
function trackedStore(client: memjs.Client, prefix: string, options: { operationTimeout?: number; maxItemSize?: number } = {}) {
  const store = new SpyStore(new MemcachedStore({ client, prefix, ...options }));
  const deleteEverything = async () => {
    for (const key of new Set(store.calls.map((call) => call.key))) await store.inner.destroy(key);
  };
  return { store, deleteEverything };
}

/**
 * Seconds memcached says the item has left (the meta protocol's `mg <key> t`), undefined when it
 * holds no such item, -1 when the item never expires. Asks the server itself, over its text protocol.
 */
function remainingSeconds(fullKey: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(MEMCACHED_PORT, '127.0.0.1', () => socket.write(`mg ${fullKey} t\r\n`));
    let answer = '';
    socket.setTimeout(1000, () => socket.destroy(new Error('memcached did not answer mg in time')));
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (!answer.endsWith('\r\n')) return;
      socket.end();
      if (answer.startsWith('EN')) return resolve(undefined);
      const ttl = /^HD t(-?\d+)\r\n$/.exec(answer);
      if (ttl) resolve(Number(ttl[1]));
      else reject(new Error(`unexpected mg answer: ${JSON.stringify(answer)}`));
    });
  });
}

async function sleepUntil(epochMs: number): Promise<void> {
  const wait = epochMs - Date.now();
  if (wait > 0) await sleep(wait);
}

describeWithService('memcached')('MemcachedStore', () => {
  describe('honours the store contract', () => {
    const prefix = `${uniqueName('sess')}:`;
    let client: memjs.Client;
    let deleteEverything: () => Promise<void>;

    runStoreContract({
      create: () => {
        client = createClient();
        const tracked = trackedStore(client, prefix);
        deleteEverything = tracked.deleteEverything;
        return Promise.resolve(tracked.store);
      },
      behindProxy: async () => {
        const operationTimeout = 300;
        const proxy = await new TcpProxy(MEMCACHED_PORT).start();
        // memjs's own timeout below the operation timeout, one attempt: as an application sets it.
        const proxiedClient = createClient(proxy.port, { timeout: 0.2, retries: 1 });
        return {
          store: new MemcachedStore({ client: proxiedClient, prefix, operationTimeout }),
          proxy,
          operationTimeout,
          // update reads before its compare-and-swap: during a partition the read never comes
          // back, so the write is never sent.
          sendsWritesDuringPartition: false,
          close: async () => {
            proxiedClient.close();
            await proxy.stop();
          },
        };
      },
      cleanup: async () => {
        await deleteEverything();
        client.close();
      },
      // memcached expires items in whole seconds.
      expiryResolutionMs: 1000,
      // memcached cannot list keys, so the store leaves listByUser out.
      listsByUser: false,
    });
  });

  describe('against the server', () => {
    const prefix = `${uniqueName('sess')}:`;
    let client: memjs.Client;
    let store: SpyStore;
    let deleteEverything: () => Promise<void>;

    beforeAll(() => {
      client = createClient();
      ({ store, deleteEverything } = trackedStore(client, prefix));
    });

    afterAll(async () => {
      await deleteEverything();
      client.close();
    });

    describe('expiry in whole seconds', () => {
      it('never lets memcached drop a record before its expiresAt, whatever the phase of its once-a-second clock', async () => {
        const start = Date.now();
        // Eight lifetimes 125 ms apart cover the whole second: some land just past a tick of
        // memcached's clock, some just before one.
        const entries = Array.from({ length: 8 }, (_, index) => ({ key: newKey(), expiresAt: start + 1_000 + index * 125 }));
        await Promise.all(entries.map(({ key, expiresAt }) => store.set(key, record(expiresAt))));
        for (const { key, expiresAt } of entries) {
          await sleepUntil(expiresAt - 100); // margin for a busy event loop; an early drop is up to a second early
          expect(await remainingSeconds(prefix + key)).toBeGreaterThanOrEqual(1);
          await expect(store.get(key)).resolves.toMatchObject({ expiresAt });
        }
      });

      it('reads are exact to the millisecond: past expiresAt the record is gone though memcached still holds it', async () => {
        const key = newKey();
        // 1.1 s rounds up to 2 s, plus 1 s for the clock: memcached keeps it ~2 s, the store 1.1 s.
        const expiresAt = Date.now() + 1_100;
        await store.set(key, record(expiresAt));
        await sleepUntil(expiresAt - 150);
        await expect(store.get(key)).resolves.toBeDefined();
        await sleepUntil(expiresAt + 1);
        await expect(store.get(key)).resolves.toBeUndefined();
        expect(await remainingSeconds(prefix + key)).toBeGreaterThanOrEqual(1);
      });

      it('neither update nor touch brings back a record past expiresAt that memcached still holds', async () => {
        const key = newKey();
        const expiresAt = Date.now() + 300;
        await store.set(key, record(expiresAt, { kept: 'no' }));
        await sleepUntil(expiresAt + 1);
        expect(await remainingSeconds(prefix + key)).toBeGreaterThanOrEqual(1);
        await expect(store.update(key, patchOf({ revived: true }))).resolves.toBe(false);
        await store.touch(key, record(Date.now() + 60_000));
        await expect(store.get(key)).resolves.toBeUndefined();
      });

      it('gives memcached the lifetime rounded up to whole seconds plus one', async () => {
        const key = newKey();
        await store.set(key, record(Date.now() + 4_200));
        // ceil(4.2) + 1 = 6 at the moment of the write; 5 if memcached's clock ticked since.
        expect(await remainingSeconds(prefix + key)).toBeGreaterThanOrEqual(5);
        expect(await remainingSeconds(prefix + key)).toBeLessThanOrEqual(6);
      });

      it.each([
        ['29 days (seconds from now)', 29 * DAY_MS],
        ['30 days less a minute (seconds from now)', 30 * DAY_MS - 60_000],
        ['30 days and a minute (an absolute unix time for memcached)', 30 * DAY_MS + 60_000],
        ['a year (an absolute unix time for memcached)', 365 * DAY_MS],
      ])('keeps a record that lives %s for that long, not as a timestamp in 1970', async (_, lifetime) => {
        const key = newKey();
        const expiresAt = Date.now() + lifetime;
        await store.set(key, record(expiresAt));
        await expect(store.get(key)).resolves.toMatchObject({ expiresAt });
        const remaining = await remainingSeconds(prefix + key);
        expect(remaining).toBeGreaterThanOrEqual(Math.floor(lifetime / 1000));
        // Upper bound loose: memcached's clock may lag the wall clock by a second or two.
        expect(remaining).toBeLessThanOrEqual(Math.ceil(lifetime / 1000) + 10);
      });

      it('moves memcached\'s expiry with update and touch, not only the expiresAt inside the record', async () => {
        const key = newKey();
        await store.set(key, record(Date.now() + 5_000));
        await store.update(key, { ...patchOf({ a: 1 }), expiresAt: Date.now() + 100_000 });
        expect(await remainingSeconds(prefix + key)).toBeGreaterThanOrEqual(100);
        await store.touch(key, record(Date.now() + 40 * DAY_MS));
        expect(await remainingSeconds(prefix + key)).toBeGreaterThanOrEqual(40 * 24 * 60 * 60 - 2);
      });
    });

    describe('item size', () => {
      it('refuses a record over memcached\'s 1 MiB item limit with a SessionStoreError that says so, writing nothing', async () => {
        const key = newKey();
        const error = await store.set(key, record(undefined, { big: 'x'.repeat(1_048_576) })).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(SessionStoreError);
        expect((error as Error).message).toMatch(/record of \d+ bytes of JSON: memcached items are limited to 1048576 bytes/);
        await expect(store.get(key)).resolves.toBeUndefined();
      });

      it('keeps a record just under the limit', async () => {
        const key = newKey();
        const data = { big: 'x'.repeat(1_048_000) };
        await store.set(key, record(undefined, data));
        await expect(store.get(key)).resolves.toMatchObject({ data });
      });

      it('refuses an update that would grow the record past the limit, leaving the record as it was', async () => {
        const key = newKey();
        await store.set(key, record(undefined, { half: 'x'.repeat(600_000) }));
        const patch = patchOf({ other: 'y'.repeat(600_000) });
        await expect(store.update(key, patch)).rejects.toThrow(/limited to 1048576 bytes/);
        const kept = await store.get(key);
        expect(Object.keys(kept!.data)).toEqual(['half']);
      });

      it('reports the server\'s own refusal as clearly when maxItemSize is set above the server\'s -I', async () => {
        const { store: generous, deleteEverything: cleanup } = trackedStore(client, prefix, { maxItemSize: 8 * 1_048_576 });
        try {
          const key = newKey();
          await expect(generous.set(key, record(undefined, { big: 'x'.repeat(2_000_000) }))).rejects.toThrow(
            /the memcached server refused it as too large/,
          );
          await expect(generous.get(key)).resolves.toBeUndefined();
        } finally {
          await cleanup();
        }
      });
    });

    describe('updates through compare-and-swap', () => {
      it('loses no key when 25 writers on five separate connections (five app instances) change one session', async () => {
        const clients = Array.from({ length: 5 }, () => createClient());
        try {
          const stores = clients.map((own) => new MemcachedStore({ client: own, prefix }));
          const key = newKey();
          await store.set(key, record(undefined, { base: true }));
          const writers = Array.from({ length: 25 }, (_, index) => stores[index % 5].update(key, patchOf({ [`k${index}`]: index })));
          await expect(Promise.all(writers)).resolves.toEqual(writers.map(() => true));
          const expected: Record<string, unknown> = { base: true };
          for (let index = 0; index < 25; index++) expected[`k${index}`] = index;
          await expect(store.get(key)).resolves.toMatchObject({ data: expected });
        } finally {
          for (const own of clients) own.close();
        }
      });

      it('never brings back a session destroyed while updates of it are in flight', async () => {
        for (let round = 0; round < 20; round++) {
          const key = newKey();
          await store.set(key, record());
          const updates = Array.from({ length: 5 }, (_, index) => store.update(key, patchOf({ [`late${index}`]: true })));
          await Promise.all([...updates, store.destroy(key)]);
          await expect(store.get(key)).resolves.toBeUndefined();
          expect(await remainingSeconds(prefix + key)).toBeUndefined();
        }
      });

      it('costs two round trips per update and touch, one per get, set and destroy, when uncontended', async () => {
        const perform = jest.spyOn(client, 'perform');
        try {
          const key = newKey();
          const roundTrips = async (run: () => Promise<unknown>) => {
            perform.mockClear();
            await run();
            return perform.mock.calls.length;
          };
          expect(await roundTrips(() => store.set(key, record()))).toBe(1);
          expect(await roundTrips(() => store.get(key))).toBe(1);
          expect(await roundTrips(() => store.update(key, patchOf({ a: 1 })))).toBe(2);
          // A later lifetime than the update's, so the touch has something to write.
          expect(await roundTrips(() => store.touch(key, record(Date.now() + 120_000)))).toBe(2);
          expect(await roundTrips(() => store.destroy(key))).toBe(1);
          // An update of a missing session stops after the read.
          expect(await roundTrips(() => store.update(key, patchOf({ a: 2 })))).toBe(1);
        } finally {
          perform.mockRestore();
        }
      });
    });

    describe('what it reads and owns', () => {
      it('refuses an item under its key that it did not write, instead of handing it out as a session', async () => {
        const key = newKey();
        await store.destroy(key); // tracked for cleanup
        for (const foreign of ['not json', '{"data":[],"createdAt":1}', 'null']) {
          await client.set(prefix + key, foreign, { expires: 60 });
          await expect(store.get(key)).rejects.toBeInstanceOf(SessionStoreError);
          await expect(store.update(key, patchOf({ a: 1 }))).rejects.toBeInstanceOf(SessionStoreError);
          const raw = await client.get(prefix + key);
          expect(raw.value?.toString()).toBe(foreign);
        }
      });

      it('keeps the owner in the item under short names, and only the fields that are set', async () => {
        const key = newKey();
        const endsBy = Date.now() + 3_600_000;
        await store.set(key, { ...record(), owner: { userId: 'u1', ip: '::1', userAgent: 'UA', endsBy } });
        const raw = JSON.parse(String((await client.get(prefix + key)).value)) as Record<string, unknown>;
        expect(raw.o).toEqual({ u: 'u1', ip: '::1', ua: 'UA', e: endsBy });
        await store.update(key, { ...patchOf({}), owner: { userId: 'u2', endsBy } });
        const replaced = JSON.parse(String((await client.get(prefix + key)).value)) as Record<string, unknown>;
        expect(replaced.o).toEqual({ u: 'u2', e: endsBy });
        await store.update(key, { ...patchOf({}), owner: null });
        expect(JSON.parse(String((await client.get(prefix + key)).value))).not.toHaveProperty('o');
      });

      it('reads an item written before owners existed as anonymous, and an update can give it one', async () => {
        const key = newKey();
        await store.destroy(key); // tracked for cleanup
        const now = Date.now();
        const old = { data: { visits: 3 }, createdAt: now, touchedAt: now, expiresAt: now + 60_000, cookieMaxAge: 1_000 };
        await client.set(prefix + key, JSON.stringify(old), { expires: 60 });
        await expect(store.get(key)).resolves.toEqual({ ...old, revision: 0 });
        const owner = { userId: 'later', endsBy: now + 60_000 };
        await expect(store.update(key, { ...patchOf({ visits: 4 }), owner })).resolves.toBe(true);
        await expect(store.get(key)).resolves.toMatchObject({ data: { visits: 4 }, cookieMaxAge: 1_000, owner });
      });

      it('refuses an item whose owner does not have the shape this store writes', async () => {
        const key = newKey();
        await store.destroy(key); // tracked for cleanup
        const now = Date.now();
        for (const o of [{ u: 1, e: now }, { u: 'x' }, { u: 'x', e: now, ua: 5 }, 'x', null]) {
          await client.set(prefix + key, JSON.stringify({ data: {}, createdAt: now, touchedAt: now, expiresAt: now + 60_000, o }), { expires: 60 });
          await expect(store.get(key)).rejects.toBeInstanceOf(SessionStoreError);
        }
      });

      it('has no listByUser: memcached cannot list keys', () => {
        expect('listByUser' in new MemcachedStore({ client })).toBe(false);
      });

      it('keeps stores with different prefixes apart on one server', async () => {
        const { store: other, deleteEverything: cleanup } = trackedStore(client, `${uniqueName('other')}:`);
        try {
          const key = newKey();
          await store.set(key, record(undefined, { mine: true }));
          await expect(other.get(key)).resolves.toBeUndefined();
          await expect(other.update(key, patchOf({ theirs: true }))).resolves.toBe(false);
          await other.destroy(key);
          await expect(store.get(key)).resolves.toMatchObject({ data: { mine: true } });
        } finally {
          await cleanup();
        }
      });

      it('leaves the application\'s client open on close()', async () => {
        const own = createClient();
        try {
          const closing = new MemcachedStore({ client: own, prefix });
          await closing.close();
          const key = newKey();
          await store.destroy(key); // tracked for cleanup
          await expect(new MemcachedStore({ client: own, prefix }).set(key, record())).resolves.toBeUndefined();
          await expect(store.get(key)).resolves.toBeDefined();
        } finally {
          own.close();
        }
      });
    });
  });

  describe('options', () => {
    const client = createClient();
    afterAll(() => client.close());

    it.each([
      ['no client', {}, /memjs Client/],
      ['something that is not a memjs client', { client: {} }, /memjs Client/],
      ['a prefix with a space', { client, prefix: 'my app:' }, /prefix must be printable ASCII without spaces/],
      ['a prefix too long for memcached keys', { client, prefix: 'p'.repeat(208) }, /at most 207 characters/],
      ['a zero operation timeout', { client, operationTimeout: 0 }, /operationTimeout must be a positive whole number/],
      ['a fractional operation timeout', { client, operationTimeout: 1.5 }, /operationTimeout must be a positive whole number/],
      ['a tiny maxItemSize', { client, maxItemSize: 10 }, /maxItemSize must be a whole number of bytes, at least 1024/],
    ])('refuses %s at construction', (_, options, message) => {
      expect(() => new MemcachedStore(options as never)).toThrow(message);
    });

    it('accepts a 207-character prefix: with the 43-character key that is memcached\'s 250-byte limit', () => {
      expect(() => new MemcachedStore({ client, prefix: 'p'.repeat(207) })).not.toThrow();
    });
  });

  describe.each([
    ['memjs retries off (retries: 1)', 1],
    ['memjs retrying (retries: 2, the default)', 2],
  ])('when the server goes away (through a TCP proxy), %s', (_, retries) => {
    const OPERATION_TIMEOUT_MS = 500;
    const prefix = `${uniqueName('sess')}:`;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    let proxy: TcpProxy;
    let client: memjs.Client;
    let store: SpyStore;
    let deleteEverything: () => Promise<void>;

    beforeAll(async () => {
      process.on('unhandledRejection', onUnhandled);
      proxy = await new TcpProxy(MEMCACHED_PORT).start();
      client = createClient(proxy.port, { timeout: 0.3, retries });
      ({ store, deleteEverything } = trackedStore(client, prefix, { operationTimeout: OPERATION_TIMEOUT_MS }));
    });

    afterAll(async () => {
      proxy.restore();
      await deleteEverything();
      client.close();
      await proxy.stop();
      process.off('unhandledRejection', onUnhandled);
    });

    it('rejects every operation with a SessionStoreError within the operation timeout, then works again with the same client', async () => {
      const key = newKey();
      await store.set(key, record(undefined, { before: 'cut' }));
      await expect(store.get(key)).resolves.toMatchObject({ data: { before: 'cut' } });

      proxy.cut();
      const operations: Array<[string, () => Promise<unknown>]> = [
        ['get', () => store.get(key)],
        ['set', () => store.set(key, record())],
        ['update', () => store.update(key, patchOf({ during: 'cut' }))],
        ['touch', () => store.touch(key, record())],
        ['destroy', () => store.destroy(key)],
      ];
      for (const [name, run] of operations) {
        const started = performance.now();
        const error = await run().then(
          () => new Error(`${name} resolved while the server was unreachable`),
          (caught: unknown) => caught,
        );
        expect(error).toBeInstanceOf(SessionStoreError);
        expect(performance.now() - started).toBeLessThan(OPERATION_TIMEOUT_MS + 250);
      }

      proxy.restore();
      await expect(store.get(key)).resolves.toMatchObject({ data: { before: 'cut' } });
      await expect(store.update(key, patchOf({ after: 'restore' }))).resolves.toBe(true);
      await expect(store.get(key)).resolves.toMatchObject({ data: { before: 'cut', after: 'restore' } });
    });

    it('settles operations caught in flight by the cut, each resolved or rejected with a SessionStoreError', async () => {
      const key = newKey();
      await store.set(key, record());
      const started = performance.now();
      const inFlight = Array.from({ length: 10 }, (_, index) => store.update(key, patchOf({ [`k${index}`]: index })));
      // The reads are written to the socket in this turn's microtasks; their answers would be read
      // in the next poll phase. Cutting in the check phase between drops them unanswered: memjs
      // sees the connection close without an error and never calls back, so only the store's
      // operation timeout ends these.
      await new Promise<void>((resolve) => setImmediate(resolve));
      proxy.cut();
      const outcomes = await Promise.allSettled(inFlight);
      expect(performance.now() - started).toBeLessThan(OPERATION_TIMEOUT_MS + 250);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(SessionStoreError);
      }
      proxy.restore();
      await expect(store.get(key)).resolves.toBeDefined();
    });

    it('left no unhandled rejection behind', async () => {
      // Late memjs callbacks of timed-out requests arrive after the operations settled.
      await sleep(1_000);
      expect(unhandled).toEqual([]);
    });
  });

  describe('when memcached answers slower than operationTimeout', () => {
    const OPERATION_TIMEOUT_MS = 300;
    const ANSWER_DELAY_MS = 500;
    const prefix = `${uniqueName('sess')}:`;
    let slow: Server;
    const sockets = new Set<Socket>();
    let slowClient: memjs.Client;
    let directClient: memjs.Client;
    let direct: SpyStore;
    let deleteEverything: () => Promise<void>;

    beforeAll(async () => {
      // A loopback proxy to the real server that holds every answer back by ANSWER_DELAY_MS.
      slow = createServer((downstream) => {
        const upstream = connect(MEMCACHED_PORT, '127.0.0.1');
        for (const socket of [downstream, upstream]) {
          sockets.add(socket);
          socket.on('error', () => undefined).on('close', () => sockets.delete(socket));
        }
        downstream.on('data', (chunk: Buffer) => upstream.write(chunk));
        upstream.on('data', (chunk: Buffer) => setTimeout(() => downstream.writable && downstream.write(chunk), ANSWER_DELAY_MS));
      });
      await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
      const address = slow.address();
      slowClient = createClient(typeof address === 'object' && address ? address.port : 0, { timeout: 5, retries: 1 });
      directClient = createClient();
      ({ store: direct, deleteEverything } = trackedStore(directClient, prefix));
    });

    afterAll(async () => {
      await deleteEverything();
      slowClient.close();
      directClient.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    });

    it('an update whose read is answered after the timeout rejects and then writes nothing', async () => {
      const key = newKey();
      await direct.set(key, record(undefined, { before: true }));
      const store = new MemcachedStore({ client: slowClient, prefix, operationTimeout: OPERATION_TIMEOUT_MS });
      await expect(store.update(key, patchOf({ late: true }))).rejects.toThrow(`Session store update timed out after ${OPERATION_TIMEOUT_MS} ms`);
      // Past the moment the delayed read arrives: the store must not go on to write the patch.
      await sleep(ANSWER_DELAY_MS + 200);
      await expect(direct.get(key)).resolves.toMatchObject({ data: { before: true } });
      expect((await direct.get(key))?.data).not.toHaveProperty('late');
    });
  });
});

describe('MemcachedStore against a server that misbehaves', () => {
  const OPERATION_TIMEOUT_MS = 500;
  let server: Server;
  let client: memjs.Client;
  let store: MemcachedStore;
  const sockets = new Set<Socket>();

  /** A loopback TCP server that reads requests and then does what `behave` says, never answering. */
  async function misbehavingServer(behave: (socket: Socket) => void): Promise<void> {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      socket.once('data', () => behave(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    client = createClient(typeof address === 'object' && address ? address.port : 0, { timeout: 5, retries: 1 });
    store = new MemcachedStore({ client, operationTimeout: OPERATION_TIMEOUT_MS });
  }

  afterEach(async () => {
    client.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('rejects with a SessionStoreError after operationTimeout when the server accepts requests and never answers', async () => {
    await misbehavingServer(() => undefined);
    const operations: Array<[string, () => Promise<unknown>]> = [
      ['get', () => store.get(newKey())],
      ['update', () => store.update(newKey(), patchOf({ a: 1 }))],
      ['destroy', () => store.destroy(newKey())],
    ];
    for (const [name, run] of operations) {
      const started = performance.now();
      const error = await run().then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(SessionStoreError);
      expect((error as Error).message).toBe(`Session store ${name} timed out after ${OPERATION_TIMEOUT_MS} ms`);
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(OPERATION_TIMEOUT_MS - 5);
      expect(elapsed).toBeLessThan(OPERATION_TIMEOUT_MS + 250);
    }
  });

  it('rejects at once, not after operationTimeout, when the server hangs up after reading a request without answering', async () => {
    // memjs 1.3.2 alone never calls back a request whose connection closed without an error:
    // the store's mend of the client fails it the moment the connection closes.
    await misbehavingServer((socket) => socket.end());
    for (const [name, run] of [
      ['get', () => store.get(newKey())],
      ['update', () => store.update(newKey(), patchOf({ a: 1 }))],
      ['destroy', () => store.destroy(newKey())],
    ] as Array<[string, () => Promise<unknown>]>) {
      const started = performance.now();
      const error = await run().then(() => undefined, (caught: unknown) => caught);
      expect({ name, error }).toEqual({ name, error: expect.any(SessionStoreError) });
      expect((error as Error).message).toBe(`Session store ${name} failed: memcached closed the connection with requests unanswered`);
      expect(performance.now() - started).toBeLessThan(OPERATION_TIMEOUT_MS / 2);
    }
  });
});

function patchOf(values: Record<string, unknown>): SessionPatch {
  return { set: values, unset: [], touchedAt: Date.now(), expiresAt: Date.now() + 60_000 };
}

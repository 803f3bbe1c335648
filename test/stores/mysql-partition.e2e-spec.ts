import { createPool, type Pool, type PoolConnection, type PoolOptions } from 'mysql2/promise';
import { MysqlStore, SessionStoreError, type SessionPatch, type SessionRecord } from '@app/session';
import { describeWithService, uniqueName } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { sleep } from '../support/test-stores';
import { newKey } from './store-contract';

/**
 * MysqlStore after partitions in which it gave up on updates. An update the store timed out on
 * must not hold up the next update of the same session: the store runs the updates of one session
 * one after another (each naming the revision the last one left), so an update whose own work
 * never settled, because mysql2 never answers nor fails a statement in flight on a connection
 * the store dropped at the timeout, left its session unwritable for good. A few partitions into
 * a run under load, every session was (store-recovery: no write at all after the fourth outage,
 * although the pool served reads).
 *
 * Both cases are deterministic: in the first the update is sent on a connection the partition
 * froze (the pool holds one open connection per session when it starts), in the second the pool
 * has no connection, and the update waits for one being opened into the partition.
 */

const SERVER: PoolOptions = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };
const OPERATION_TIMEOUT = 400;
const SESSIONS = 3;
const PARTITIONS = 3;
/** The connections frozen during a partition deliver what they held this long after the heal. */
const HELD_CONNECTIONS_AFTER_MS = 300;
/** mysql2's own default: a connection attempt into a partition lasts this long. */
const MYSQL2_CONNECT_TIMEOUT = 10_000;

function record(data: Record<string, unknown>): SessionRecord {
  const now = Date.now();
  return { data, createdAt: now, touchedAt: now, expiresAt: now + 60_000 };
}

function patch(set: Record<string, unknown>, revision: number | undefined): SessionPatch {
  const now = Date.now();
  return { set, unset: [], touchedAt: now, expiresAt: now + 60_000, ...(revision === undefined ? {} : { revision }) };
}

/** `promise`, or a rejection once `ms` have passed (what this suite expects to hang must not). */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describeWithService('mysql')('MysqlStore after partitions in which updates timed out', () => {
  const tableName = uniqueName('partition');
  let admin: Pool;
  /** A store on the server directly: writes the rows and reads them back. */
  let direct: MysqlStore;
  let proxy: TcpProxy;
  let pool: Pool;
  let store: MysqlStore;

  beforeAll(async () => {
    admin = createPool({ ...SERVER, connectionLimit: 2 });
    direct = new MysqlStore({ pool: admin, tableName, cleanupInterval: false });
    await direct.createTable();
  });

  afterAll(async () => {
    await direct?.close();
    await admin?.query(`DROP TABLE IF EXISTS \`${tableName}\``);
    await admin?.end();
  });

  /** The store under test, on a pool of its own through a proxy of its own. */
  async function openProxied(options: Partial<PoolOptions>): Promise<void> {
    proxy = await new TcpProxy(3306).start();
    pool = createPool({ ...SERVER, port: proxy.port, ...options });
    store = new MysqlStore({ pool, tableName, operationTimeout: OPERATION_TIMEOUT, cleanupInterval: false });
  }

  afterEach(async () => {
    await store?.close();
    // The proxy first: it ends whatever is still held or connecting, which the pool then closes.
    await proxy?.stop();
    await pool?.end().catch(() => undefined);
  });

  async function seed(): Promise<Map<string, number>> {
    const revisions = new Map<string, number>();
    for (let session = 0; session < SESSIONS; session++) {
      const key = newKey();
      await direct.set(key, record({ partition: 0 }));
      revisions.set(key, (await direct.get(key))!.revision!);
    }
    return revisions;
  }

  it('updates every session again right after each heal, however many updates of it a partition held', async () => {
    await openProxied({ connectionLimit: SESSIONS, connectTimeout: OPERATION_TIMEOUT });
    const revisions = await seed();

    for (let partition = 1; partition <= PARTITIONS; partition++) {
      // One open connection per session, so each update below is sent on one the partition froze.
      const opened: PoolConnection[] = await Promise.all(Array.from({ length: SESSIONS }, () => pool.getConnection()));
      for (const connection of opened) connection.release();

      proxy.freeze();
      const heldBack = await Promise.allSettled([...revisions].map(([key, revision]) => store.update(key, patch({ partition: -partition }, revision))));
      for (const outcome of heldBack) {
        expect(outcome.status).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(SessionStoreError);
        expect((outcome as PromiseRejectedResult).reason.message).toMatch(/timed out/);
      }

      proxy.heal({ heldConnectionsAfterMs: HELD_CONNECTIONS_AFTER_MS });
      // Each session's next update runs at once, on the revision its request would have loaded
      // (the held one never applied), rather than waiting behind the update given up on.
      const after = await Promise.allSettled([...revisions].map(([key, revision]) => store.update(key, patch({ partition }, revision))));
      expect(after.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : String(outcome.reason)))).toEqual(
        Array.from({ length: SESSIONS }, () => true),
      );

      // Whatever the held connections deliver now, after the newer updates, names an older
      // revision and changes nothing.
      await proxy.released();
      await sleep(200);
      for (const [key, revision] of revisions) {
        await expect(direct.get(key)).resolves.toMatchObject({ data: { partition }, revision: revision + 1 });
        revisions.set(key, revision + 1);
      }
    }
  }, 20_000);

  it('updates a session right after the heal when the update given up on was still waiting for a connection into the partition', async () => {
    await openProxied({ connectionLimit: 2, connectTimeout: MYSQL2_CONNECT_TIMEOUT });
    const [[key, revision]] = await seed();

    // No connection in the pool: the update waits for one being opened into the partition, which
    // lasts until the partition's held connections are released (well past the operation timeout).
    proxy.freeze();
    await expect(store.update(key, patch({ partition: -1 }, revision))).rejects.toThrow(/timed out/);

    proxy.heal({ heldConnectionsAfterMs: 1_500 });
    await expect(store.update(key, patch({ partition: 1 }, revision))).resolves.toBe(true);
    await expect(direct.get(key)).resolves.toMatchObject({ data: { partition: 1 }, revision: revision + 1 });

    // The connection opened during the partition completes once released, and the store hands
    // it back to the pool unused: both slots of the pool serve again.
    await proxy.released();
    const both = await within(2_000, Promise.all([pool.getConnection(), pool.getConnection()]));
    for (const connection of both) connection.release();
  }, 10_000);
});

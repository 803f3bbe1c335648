import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createPool, type Pool, type PoolConnection, type PoolOptions, type RowDataPacket } from 'mysql2/promise';
import { MemoryStore, SessionConfigError, SessionStoreError, type SessionOwner, type SessionPatch, type SessionRecord } from '@app/session';
import { MysqlStore, type MysqlStoreOptions } from '@app/session';
import { describeWithService, uniqueName } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { newKey, runStoreContract, type ProxiedStore } from './store-contract';

/** The MariaDB / MySQL server the suite runs against (root without password, database `test`). */
const SERVER: PoolOptions = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  return { data: { visits: 1 }, createdAt: now, touchedAt: now, expiresAt: now + 60_000, ...overrides };
}

function patch(overrides: Partial<SessionPatch> = {}): SessionPatch {
  return { set: {}, unset: [], touchedAt: Date.now(), expiresAt: Date.now() + 60_000, ...overrides };
}

function owner(userId: string, overrides: Partial<SessionOwner> = {}): SessionOwner {
  return { userId, ip: '198.51.100.4', userAgent: 'Mozilla/5.0 Test', endsBy: Date.now() + 3_600_000, ...overrides };
}

/** The table as the first releases created it, before the owner columns. */
function oldSchemaSql(table: string): string {
  return `CREATE TABLE \`${table}\` (
  session_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  data JSON NOT NULL,
  created_at BIGINT NOT NULL,
  touched_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  cookie_max_age BIGINT NULL,
  PRIMARY KEY (session_key),
  KEY expires_at_idx (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;
}

/** The table as the releases with owners created it: before the revision column. */
function ownersSchemaSql(table: string): string {
  return oldSchemaSql(table).replace(
    '  PRIMARY KEY (session_key),',
    `  user_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  user_ip VARCHAR(255) NULL,
  user_agent VARCHAR(512) NULL,
  owner_ends_by BIGINT NULL,
  PRIMARY KEY (session_key),
  KEY user_id_idx (user_id, created_at),`,
  );
}

/** Short, so the partition tests stay quick: the proxied store gives up after this long. */
const PROXIED_OPERATION_TIMEOUT = 300;

/** A {@link ProxiedStore} whose pool is reachable too, to see when a held statement is answered. */
interface ProxiedMysqlStore extends ProxiedStore {
  readonly store: MysqlStore;
  readonly pool: Pool;
}

/**
 * A second store on `tableName` whose one connection goes through a {@link TcpProxy} of the
 * test's own (what the contract suite's `behindProxy` asks for), with a short operation timeout.
 */
async function behindProxy(tableName: string): Promise<ProxiedMysqlStore> {
  const proxy = await new TcpProxy(3306).start();
  // One connection: the statement that times out is sent on the connection opened before the
  // partition, not on a fresh one stuck connecting.
  const proxiedPool = createPool({ ...SERVER, port: proxy.port, connectionLimit: 1, connectTimeout: 1_000 });
  const proxied = new MysqlStore({
    pool: proxiedPool,
    tableName,
    operationTimeout: PROXIED_OPERATION_TIMEOUT,
    cleanupInterval: false,
  });
  return {
    store: proxied,
    pool: proxiedPool,
    proxy,
    operationTimeout: PROXIED_OPERATION_TIMEOUT,
    close: async () => {
      await proxied.close();
      await proxiedPool.end();
      await proxy.stop();
    },
  };
}

/**
 * `pool` as the store sees it, with every statement the store sends through `execute` counted,
 * and `before` run ahead of each (another writer getting in first).
 */
function interposed(pool: Pool, before: (sql: string) => Promise<void> = async () => undefined): { pool: Pool; sent: string[] } {
  const sent: string[] = [];
  const getConnection = async (): Promise<PoolConnection> => {
    const connection = await pool.getConnection();
    const execute = async (options: string | { sql: string }, values?: unknown): Promise<unknown> => {
      const sql = typeof options === 'string' ? options : options.sql;
      sent.push(sql);
      await before(sql);
      return connection.execute(options as never, values as never);
    };
    return new Proxy(connection, {
      get: (target, property) => {
        if (property === 'execute') return execute;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  return { pool: { execute: pool.execute.bind(pool), query: pool.query.bind(pool), getConnection } as unknown as Pool, sent };
}

function expiredRecord(data: Record<string, unknown> = { old: true }): SessionRecord {
  const past = Date.now() - 60_000;
  return record({ data, createdAt: past, touchedAt: past, expiresAt: Date.now() - 1 });
}

/** `depth` arrays nested in one another around a number: JSON nesting `depth`. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level++) value = [value];
  return value;
}

/** A small seeded PRNG (mulberry32), so the generated patches are the same on every run. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(25);
  }
}

describeWithService('mysql')('MysqlStore (MariaDB / MySQL)', () => {
  describe('honours the store contract', () => {
    let pool: Pool;
    let table: string;
    runStoreContract({
      create: async () => {
        pool = createPool({ ...SERVER, connectionLimit: 10 });
        table = uniqueName('sessions');
        const store = new MysqlStore({ pool, tableName: table });
        await store.createTable();
        return store;
      },
      cleanup: async (store) => {
        await store.close?.();
        await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
        await pool.end();
      },
      behindProxy: () => behindProxy(table),
    });
  });

  describe('specifics', () => {
    let pool: Pool;
    const tables: string[] = [];
    const stores: MysqlStore[] = [];

    /** A store over its own fresh table (dropped after the suite), sweeping disabled unless asked. */
    async function openStore(options: Partial<MysqlStoreOptions> = {}, on: Pool = pool) {
      const table = uniqueName('sessions');
      tables.push(table);
      const store = new MysqlStore({ pool: on, tableName: table, cleanupInterval: false, ...options });
      stores.push(store);
      await store.createTable();
      return { store, table };
    }

    async function rowCount(table: string): Promise<number> {
      const [rows] = await pool.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${table}\``);
      return Number(rows[0].n);
    }

    /** The stored JSON text and how many top-level members the server counts in it. */
    async function storedData(table: string, key: string): Promise<{ text: string; members: number }> {
      const [rows] = await pool.query<RowDataPacket[]>(
        `SELECT CAST(data AS CHAR) AS text, JSON_LENGTH(data) AS members FROM \`${table}\` WHERE session_key = ?`,
        [key],
      );
      return { text: String(rows[0].text), members: Number(rows[0].members) };
    }

    beforeAll(() => {
      pool = createPool({ ...SERVER, connectionLimit: 10 });
    });

    afterAll(async () => {
      for (const store of stores) await store.close();
      for (const table of tables) await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
      await pool.end();
    });

    describe('schema', () => {
      it('createTable is idempotent and keeps the rows already stored', async () => {
        const { store } = await openStore();
        const key = newKey();
        await store.set(key, record({ data: { kept: true } }));
        await expect(store.createTable()).resolves.toBeUndefined();
        await expect(store.get(key)).resolves.toMatchObject({ data: { kept: true } });
      });

      it('creates the documented columns: byte-compared keys, JSON data, millisecond BIGINTs, an index on expires_at', async () => {
        const { table } = await openStore();
        const [columns] = await pool.query<RowDataPacket[]>(
          'SELECT COLUMN_NAME AS name, DATA_TYPE AS type, IS_NULLABLE AS nullable, COLLATION_NAME AS collation ' +
            'FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
          [table],
        );
        expect(columns.map((column) => column.name)).toEqual([
          'session_key', 'data', 'created_at', 'touched_at', 'expires_at', 'cookie_max_age',
          'user_id', 'user_ip', 'user_agent', 'owner_ends_by', 'revision',
        ]);
        const byName = Object.fromEntries(columns.map((column) => [column.name, column]));
        expect(byName.session_key).toMatchObject({ type: 'varchar', nullable: 'NO', collation: 'ascii_bin' });
        // MariaDB reports JSON as longtext (with a JSON_VALID check), MySQL as json.
        expect(['json', 'longtext']).toContain(byName.data.type);
        expect(byName.expires_at).toMatchObject({ type: 'bigint', nullable: 'NO' });
        expect(byName.cookie_max_age).toMatchObject({ type: 'bigint', nullable: 'YES' });
        expect(byName.user_id).toMatchObject({ type: 'varchar', nullable: 'YES', collation: 'utf8mb4_bin' });
        expect(byName.user_ip).toMatchObject({ type: 'varchar', nullable: 'YES' });
        expect(byName.user_agent).toMatchObject({ type: 'varchar', nullable: 'YES' });
        expect(byName.owner_ends_by).toMatchObject({ type: 'bigint', nullable: 'YES' });
        expect(byName.revision).toMatchObject({ type: 'bigint', nullable: 'NO' });
        const [indexes] = await pool.query<RowDataPacket[]>(
          'SELECT INDEX_NAME AS name, COLUMN_NAME AS col, SEQ_IN_INDEX AS seq FROM information_schema.STATISTICS ' +
            'WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
          [table],
        );
        expect(indexes).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ name: 'PRIMARY', col: 'session_key' }),
            expect.objectContaining({ name: 'expires_at_idx', col: 'expires_at' }),
            expect.objectContaining({ name: 'user_id_idx', col: 'user_id', seq: 1 }),
            expect.objectContaining({ name: 'user_id_idx', col: 'created_at', seq: 2 }),
          ]),
        );
      });

      it('keys differing only in case are different sessions (base64url is case-sensitive)', async () => {
        const { store } = await openStore();
        const key = newKey();
        const twin = key === key.toUpperCase() ? key.toLowerCase() : key.toUpperCase();
        await store.set(key, record({ data: { who: 'original' } }));
        await expect(store.get(twin)).resolves.toBeUndefined();
        await store.set(twin, record({ data: { who: 'twin' } }));
        await expect(store.get(key)).resolves.toMatchObject({ data: { who: 'original' } });
      });

      it('refuses data that is not JSON at the database (JSON_VALID check / JSON type)', async () => {
        const { table } = await openStore();
        await expect(
          pool.query(`INSERT INTO \`${table}\` (session_key, data, created_at, touched_at, expires_at) VALUES (?, ?, 1, 1, 1)`, [
            newKey(),
            'not json',
          ]),
        ).rejects.toThrow();
      });

      it('createTable upgrades a table created without the owner columns, keeping its rows, from several instances at once', async () => {
        const table = uniqueName('sessions');
        tables.push(table);
        await pool.query(oldSchemaSql(table));
        const before = record({ data: { old: true }, cookieMaxAge: 5_000 });
        const oldKey = newKey();
        await pool.query(
          `INSERT INTO \`${table}\` (session_key, data, created_at, touched_at, expires_at, cookie_max_age) VALUES (?, ?, ?, ?, ?, ?)`,
          [oldKey, JSON.stringify(before.data), before.createdAt, before.touchedAt, before.expiresAt, before.cookieMaxAge],
        );
        const instances = Array.from({ length: 4 }, () => new MysqlStore({ pool, tableName: table, cleanupInterval: false }));
        stores.push(...instances);
        await expect(Promise.all(instances.map((instance) => instance.createTable()))).resolves.toHaveLength(4);
        const [store] = instances;
        // Anonymous: no owner, no undefined keys; written before revisions: revision 0.
        await expect(store.get(oldKey)).resolves.toEqual({ ...before, revision: 0 });

        const userId = uniqueName('user');
        const signedIn = record({ owner: owner(userId) });
        const newer = newKey();
        await store.set(newer, signedIn);
        await expect(store.get(newer)).resolves.toEqual({ ...signedIn, revision: 1 });
        await expect(store.update(oldKey, patch({ owner: owner(userId, { userAgent: 'old device' }), revision: 0 }))).resolves.toBe(true);
        const listed = await store.listByUser(userId);
        expect(listed.map((entry) => entry.key)).toEqual([oldKey, newer]); // the old row was created first
        expect(listed[0].record.revision).toBe(1);
        expect(listed[1].record).toEqual({ ...signedIn, revision: 1 });

        // Upgraded and new tables end up alike, column for column.
        const shape = async (name: string) =>
          (
            await pool.query<RowDataPacket[]>(
              'SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLLATION_NAME FROM information_schema.COLUMNS ' +
                'WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
              [name],
            )
          )[0];
        const { table: fresh } = await openStore();
        expect(await shape(table)).toEqual(await shape(fresh));
        const [index] = await pool.query<RowDataPacket[]>(
          "SELECT COLUMN_NAME AS col FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'user_id_idx' ORDER BY SEQ_IN_INDEX",
          [table],
        );
        expect(index.map((row) => row.col)).toEqual(['user_id', 'created_at']);
      });

      it('createTable on an up-to-date table does not wait behind a transaction holding the table', async () => {
        const { store, table } = await openStore();
        const fast = new MysqlStore({ pool, tableName: table, operationTimeout: 500, cleanupInterval: false });
        stores.push(fast);
        await store.set(newKey(), record());
        const reader = await pool.getConnection();
        try {
          await reader.query('START TRANSACTION');
          await reader.query(`SELECT COUNT(*) FROM \`${table}\``); // holds the table's metadata lock until it ends
          await expect(fast.createTable()).resolves.toBeUndefined();
        } finally {
          reader.destroy();
        }
      });

      it('an upgrade blocked by a long transaction gives up within about the operation timeout, without stalling the table', async () => {
        const table = uniqueName('sessions');
        tables.push(table);
        await pool.query(oldSchemaSql(table));
        const upgrading = new MysqlStore({ pool, tableName: table, operationTimeout: 1_000, cleanupInterval: false });
        stores.push(upgrading);
        const reader = await pool.getConnection();
        try {
          await reader.query('START TRANSACTION');
          await reader.query(`SELECT COUNT(*) FROM \`${table}\``);
          const started = performance.now();
          await expect(upgrading.createTable()).rejects.toBeInstanceOf(SessionStoreError);
          expect(performance.now() - started).toBeLessThan(1_500);
          await sleep(500); // past the ALTER's own lock wait (1 s): it gave up rather than queueing on
          // A waiting ALTER would queue every later query on the table behind it.
          const startedRead = performance.now();
          await pool.query({ sql: `SELECT COUNT(*) FROM \`${table}\``, timeout: 2_000 });
          expect(performance.now() - startedRead).toBeLessThan(500);
        } finally {
          reader.destroy();
        }
        await expect(upgrading.createTable()).resolves.toBeUndefined(); // and it succeeds once the table is free
        await expect(upgrading.listByUser('nobody')).resolves.toEqual([]);
      });

      it('exports the DDL for migrations, quoting a database-qualified name part by part', () => {
        expect(MysqlStore.createTableSql()).toMatch(/^CREATE TABLE IF NOT EXISTS `sessions` \(/);
        expect(MysqlStore.createTableSql()).toContain('user_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,');
        expect(MysqlStore.createTableSql()).toContain('KEY user_id_idx (user_id, created_at)');
        expect(MysqlStore.createTableSql('auth.user_sessions')).toMatch(/^CREATE TABLE IF NOT EXISTS `auth`\.`user_sessions` \(/);
      });

      it.each([
        ['empty', ''],
        ['a statement', 'sessions; DROP TABLE users'],
        ['a backtick', 'sess`ions'],
        ['a dash', 'my-sessions'],
        ['a space', 'my sessions'],
        ['three parts', 'a.b.c'],
        ['an empty part', 'auth.'],
        ['a leading digit', '1sessions'],
        ['a non-ASCII letter', 'séssions'],
        ['65 characters', 's'.repeat(65)],
      ])('refuses a table name with %s', (_label, tableName) => {
        expect(() => new MysqlStore({ pool, tableName })).toThrow(SessionConfigError);
        expect(() => MysqlStore.createTableSql(tableName)).toThrow(SessionConfigError);
      });

      it('accepts 64-character and database-qualified names', () => {
        expect(() => new MysqlStore({ pool, tableName: 's'.repeat(64), cleanupInterval: false })).not.toThrow();
        expect(() => new MysqlStore({ pool, tableName: 'test.sessions', cleanupInterval: false })).not.toThrow();
      });
    });

    describe('options', () => {
      it.each([0, -1, 1.5, Number.NaN, 2 ** 31])('refuses cleanupInterval %p', (cleanupInterval) => {
        expect(() => new MysqlStore({ pool, cleanupInterval })).toThrow(SessionConfigError);
      });

      it.each([0, -5, 2.5])('refuses operationTimeout %p', (operationTimeout) => {
        expect(() => new MysqlStore({ pool, operationTimeout, cleanupInterval: false })).toThrow(SessionConfigError);
      });

      it('refuses a missing pool, and a callback pool that would never settle a promise', async () => {
        expect(() => new MysqlStore({} as MysqlStoreOptions)).toThrow(SessionConfigError);
        const { createPool: createCallbackPool } = await import('mysql2');
        const callbackPool = createCallbackPool({ ...SERVER, connectionLimit: 1 });
        try {
          expect(() => new MysqlStore({ pool: callbackPool as unknown as Pool })).toThrow(/pool\.promise\(\)/);
          expect(() => new MysqlStore({ pool: callbackPool.promise(), cleanupInterval: false })).not.toThrow();
        } finally {
          await callbackPool.promise().end();
        }
      });

      it('close() leaves the pool open: it belongs to the application', async () => {
        const { store } = await openStore();
        await store.close();
        await expect(pool.query('SELECT 1')).resolves.toBeDefined();
      });
    });

    describe('values', () => {
      it('gives timestamps and cookie lifetime back as numbers, whatever the pool does with BIGINT and JSON', async () => {
        // A pool configured the other way round on every result option the store relies on.
        const oddPool = createPool({
          ...SERVER,
          connectionLimit: 2,
          supportBigNumbers: true,
          bigNumberStrings: true,
          jsonStrings: true,
          rowsAsArray: true,
          nestTables: true,
          flags: ['-FOUND_ROWS'],
        });
        try {
          for (const on of [pool, oddPool]) {
            const { store } = await openStore({}, on);
            const key = newKey();
            const stored = record({ data: { n: 1 }, cookieMaxAge: 86_400_000 });
            await store.set(key, stored);
            const loaded = await store.get(key);
            expect(loaded).toEqual({ ...stored, revision: 1 });
            for (const value of [loaded!.createdAt, loaded!.touchedAt, loaded!.expiresAt, loaded!.cookieMaxAge, loaded!.revision]) {
              expect(typeof value).toBe('number');
            }
            // An update that writes exactly what is stored still reports the live session
            // (without FOUND_ROWS, affectedRows would say 0).
            const same = patch({ touchedAt: stored.touchedAt, expiresAt: stored.expiresAt });
            await expect(store.update(key, same)).resolves.toBe(true);
            await expect(store.update(key, same)).resolves.toBe(true);
          }
        } finally {
          await oddPool.end();
        }
      });

      it('round-trips 100 KB values and 4-byte UTF-8 (emoji) in keys and values, through set and update', async () => {
        const { store, table } = await openStore();
        const key = newKey();
        const big = '🎉'.repeat(25_000) + 'x'.repeat(100_000);
        await store.set(key, record({ data: { '🔑': big, text: '日本語 ✓ 𝄞' } }));
        await store.update(key, patch({ set: { '😀 key': big.slice(0, 50_000), 'ü.é': '𝄞🎉' }, unset: ['text'] }));
        await expect(store.get(key)).resolves.toMatchObject({ data: { '🔑': big, '😀 key': big.slice(0, 50_000), 'ü.é': '𝄞🎉' } });
        expect((await store.get(key))!.data).not.toHaveProperty('text');
        expect((await storedData(table, key)).members).toBe(3);
      });

      it('keeps session data nested 31 levels deep (MariaDB JSON limit) and refuses deeper, storing nothing', async () => {
        const { store } = await openStore();
        const key = newKey();
        // The data object is one level; each value may nest 30 more.
        await store.set(key, record({ data: { deep: nested(30) } }));
        await expect(store.update(key, patch({ set: { deeper: nested(30) } }))).resolves.toBe(true);
        await expect(store.get(key)).resolves.toMatchObject({ data: { deep: nested(30), deeper: nested(30) } });

        await expect(store.update(key, patch({ set: { tooDeep: nested(31) } }))).rejects.toBeInstanceOf(SessionStoreError);
        await expect(store.set(key, record({ data: { tooDeep: nested(31) } }))).rejects.toBeInstanceOf(SessionStoreError);
        const after = await store.get(key);
        expect(after!.data).toEqual({ deep: nested(30), deeper: nested(30) });
      });

      it('a value JSON cannot represent (undefined) removes the key, as a whole-record save would', async () => {
        const { store } = await openStore();
        const key = newKey();
        await store.set(key, record({ data: { a: 1, b: 2 } }));
        await expect(store.update(key, patch({ set: { a: undefined, c: 3 } }))).resolves.toBe(true);
        await expect(store.get(key)).resolves.toMatchObject({ data: { b: 2, c: 3 } });
        expect((await store.get(key))!.data).not.toHaveProperty('a');
      });
    });

    describe('update', () => {
      it('removes several non-ASCII keys in one patch and then rewrites one without duplicating it', async () => {
        // Regression guard: MariaDB's multi-path JSON_REMOVE('{"a","b","é"}', a, b, é) keeps "é".
        const { store, table } = await openStore();
        const key = newKey();
        await store.set(key, record({ data: { a: 1, b: 1, é: 1, ü: 1, '🎉': 1, z: 1 } }));
        await store.update(key, patch({ unset: ['a', 'b', 'é', '🎉'], set: { ü: 2 } }));
        await expect(store.get(key)).resolves.toMatchObject({ data: { ü: 2, z: 1 } });
        expect(Object.keys((await store.get(key))!.data).sort()).toEqual(['z', 'ü']);
        expect((await storedData(table, key)).members).toBe(2);
      });

      it('applies any patch exactly as MemoryStore does (300 seeded random patches with tricky keys and values)', async () => {
        const { store, table } = await openStore();
        const reference = new MemoryStore();
        const random = seededRandom(20_240_611);
        const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
        const keys = [
          'a', 'b', 'z', 'é', 'ü', '🎉', 'a.b', '$.x', '$', "it's", 'x"y', 'back\\slash', '', '[0]', '*', '**',
          'tab\tkey', 'new\nline', '\u0000', '\u2028', 'ü ✓', '日本語', 'a b', '"', '\\', 'user', 'visits', '__proto__',
        ];
        const strings = ['', 'x', 'héllo 🎉', 'a"b', 'c\\d', '\u0000', 'null', '{"a":1}', "'; DROP TABLE x; --", '𝄞'.repeat(50)];
        const value = (depth = 0): unknown => {
          switch (Math.floor(random() * (depth > 2 ? 4 : 6))) {
            case 0: return null;
            case 1: return pick(strings);
            case 2: return pick([0, 1, -1, 2.5, 1e21, 123_456_789_012, true, false]);
            case 3: return `${pick(strings)}${Math.floor(random() * 100)}`;
            case 4: return Array.from({ length: Math.floor(random() * 3) }, () => value(depth + 1));
            default: return Object.fromEntries(Array.from({ length: Math.floor(random() * 3) }, () => [pick(keys), value(depth + 1)]));
          }
        };
        const data = () => Object.fromEntries(Array.from({ length: Math.floor(random() * 6) }, () => [pick(keys), value()]));

        const key = newKey();
        for (let round = 0; round < 300; round++) {
          if (round % 25 === 0) {
            const fresh = record({ data: data() });
            await store.set(key, fresh);
            await reference.set(key, fresh);
          }
          const change = patch({
            set: Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [pick(keys), value()])),
            unset: Array.from({ length: Math.floor(random() * 4) }, () => pick(keys)),
            ...(random() < 0.3 ? { cookieMaxAge: random() < 0.5 ? null : 1_000 + round } : {}),
          });
          await expect(store.update(key, change)).resolves.toBe(await reference.update(key, change));
          const expected = await reference.get(key);
          const actual = await store.get(key);
          expect({ round, record: actual }).toEqual({ round, record: expected });
          // No key stored twice (JSON.parse would hide a duplicate by keeping the last one).
          expect({ round, members: (await storedData(table, key)).members }).toEqual({ round, members: Object.keys(expected!.data).length });
        }
      });

      it('applies a patch of more than 64 keys in a locked transaction, with the same result', async () => {
        const { store, table } = await openStore();
        const key = newKey();
        const many = (prefix: string, count: number) => Array.from({ length: count }, (_, index) => `${prefix}${index}é`);
        await store.set(key, record({ data: { keep: true, ...Object.fromEntries(many('old', 100).map((name) => [name, 1])) } }));
        const change = patch({
          unset: many('old', 100),
          set: Object.fromEntries(many('new', 100).map((name, index) => [name, { index, text: 'x"y\\z 🎉' }])),
          cookieMaxAge: 5_000,
        });
        await expect(store.update(key, change)).resolves.toBe(true);
        const loaded = await store.get(key);
        expect(loaded).toMatchObject({ touchedAt: change.touchedAt, expiresAt: change.expiresAt, cookieMaxAge: 5_000 });
        expect(loaded!.data).toEqual({ keep: true, ...change.set });
        expect((await storedData(table, key)).members).toBe(101);
      });

      it('a large patch never resurrects a destroyed or expired session either', async () => {
        const { store } = await openStore();
        const big = patch({ set: Object.fromEntries(Array.from({ length: 80 }, (_, index) => [`k${index}`, index])) });
        const destroyed = newKey();
        await store.set(destroyed, record());
        await store.destroy(destroyed);
        await expect(store.update(destroyed, big)).resolves.toBe(false);
        await expect(store.get(destroyed)).resolves.toBeUndefined();
        const expired = newKey();
        await store.set(expired, expiredRecord());
        await expect(store.update(expired, big)).resolves.toBe(false);
        await expect(store.get(expired)).resolves.toBeUndefined();
      });

      it('loses no key when small and large patches of one session race', async () => {
        const { store } = await openStore();
        const key = newKey();
        await store.set(key, record({ data: { base: true } }));
        const writers = Array.from({ length: 16 }, (_, writer) => {
          const size = writer % 4 === 0 ? 70 : 2; // every fourth writer takes the transaction path
          const set = Object.fromEntries(Array.from({ length: size }, (_, index) => [`w${writer}_${index}`, writer]));
          return store.update(key, patch({ set }));
        });
        await expect(Promise.all(writers)).resolves.toEqual(writers.map(() => true));
        const data = (await store.get(key))!.data;
        expect(Object.keys(data)).toHaveLength(1 + 4 * 70 + 12 * 2);
        expect(data).toMatchObject({ base: true, w0_69: 0, w1_1: 1, w15_0: 15 });
      });
    });

    describe('owner', () => {
      it('compares user ids byte for byte: case, accents and trailing spaces all tell users apart', async () => {
        const { store } = await openStore();
        const base = uniqueName('Erin');
        // utf8mb4_bin is case-sensitive, but as a PAD SPACE collation it finds "x " for "x".
        const ids = [base, base.toLowerCase(), `${base} `, `${base}  `, `${base}\u00e9`, `${base}e\u0301`, `${base}\u0000`];
        const keys = ids.map(() => newKey());
        await Promise.all(ids.map((userId, index) => store.set(keys[index], record({ owner: owner(userId) }))));
        for (const [index, userId] of ids.entries()) {
          const listed = await store.listByUser(userId);
          expect({ userId, keys: listed.map((entry) => entry.key) }).toEqual({ userId, keys: [keys[index]] });
          expect(listed[0].record.owner?.userId).toBe(userId);
        }
      });

      it('sets, keeps, replaces and removes the owner through a patch of more than 64 keys (the transaction path)', async () => {
        const { store } = await openStore();
        const key = newKey();
        const first = owner(uniqueName('user'));
        const created = record({ data: { base: true }, owner: first });
        await store.set(key, created);
        const large = (overrides: Partial<SessionPatch> = {}) =>
          patch({ set: Object.fromEntries(Array.from({ length: 70 }, (_, index) => [`k${index}`, index])), ...overrides });

        await expect(store.update(key, large())).resolves.toBe(true);
        await expect(store.get(key)).resolves.toMatchObject({ owner: first, data: { base: true, k69: 69 } });

        const second: SessionOwner = { userId: uniqueName('user'), endsBy: Date.now() + 60_000 };
        await expect(store.update(key, large({ owner: second, cookieMaxAge: 9_000 }))).resolves.toBe(true);
        expect(await store.get(key)).toMatchObject({ owner: second, cookieMaxAge: 9_000 });
        expect((await store.get(key))?.owner).toEqual(second); // no ip / userAgent keys at all
        await expect(store.listByUser(first.userId)).resolves.toEqual([]);
        await expect(store.listByUser(second.userId)).resolves.toMatchObject([{ key }]);

        await expect(store.update(key, large({ owner: null }))).resolves.toBe(true);
        expect(await store.get(key)).not.toHaveProperty('owner');
        await expect(store.listByUser(second.userId)).resolves.toEqual([]);
        expect((await store.get(key))?.createdAt).toBe(created.createdAt);
      });

      it('keeps an owner the UPDATE statement path wrote, for every patch shape it caches', async () => {
        const { store } = await openStore();
        const key = newKey();
        await store.set(key, record({ data: { a: 1 } }));
        const mine = owner(uniqueName('user'));
        await expect(store.update(key, patch({ set: { b: 2 }, unset: ['a'], owner: mine }))).resolves.toBe(true);
        await expect(store.update(key, patch({ set: { c: 3 }, cookieMaxAge: 1_000 }))).resolves.toBe(true);
        await expect(store.get(key)).resolves.toMatchObject({ data: { b: 2, c: 3 }, owner: mine, cookieMaxAge: 1_000 });
      });

      it.each<[string, Partial<SessionOwner>, RegExp]>([
        ['an empty user id', { userId: '' }, /owner\.userId must be a well-formed string of 1 to 255 characters \(got 0 characters\)/],
        ['a user id of 256 characters', { userId: 'u'.repeat(256) }, /owner\.userId must be a well-formed string of 1 to 255 characters/],
        ['a user agent of 513 characters', { userAgent: 'a'.repeat(513) }, /owner\.userAgent must be a well-formed string of at most 512 characters/],
        ['an ip of 256 characters', { ip: '1'.repeat(256) }, /owner\.ip must be a well-formed string of at most 255 characters/],
        ['a lone surrogate', { userId: 'u\ud800' }, /owner\.userId must be a well-formed string/],
      ])('refuses an owner with %s, in set and in either update path, writing nothing', async (_label, overrides, message) => {
        const { store } = await openStore();
        const bad = owner('valid', overrides);
        const key = newKey();
        await expect(store.set(key, record({ owner: bad }))).rejects.toThrow(message);
        await expect(store.get(key)).resolves.toBeUndefined();
        await store.set(key, record({ data: { a: 1 } }));
        await expect(store.update(key, patch({ set: { b: 2 }, owner: bad }))).rejects.toBeInstanceOf(SessionStoreError);
        const many = Object.fromEntries(Array.from({ length: 70 }, (_, index) => [`k${index}`, index]));
        await expect(store.update(key, patch({ set: many, owner: bad }))).rejects.toBeInstanceOf(SessionStoreError);
        await expect(store.get(key)).resolves.toEqual(expect.objectContaining({ data: { a: 1 } }));
        expect(await store.get(key)).not.toHaveProperty('owner');
      });

      it('accepts the longest owner fields the columns hold, 4-byte characters included', async () => {
        const { store } = await openStore();
        const key = newKey();
        const longest: SessionOwner = { userId: '🎉'.repeat(127) + 'x', ip: 'i'.repeat(255), userAgent: 'ü'.repeat(512), endsBy: Date.now() + 60_000 };
        await store.set(key, record({ owner: longest }));
        await expect(store.get(key)).resolves.toMatchObject({ owner: longest });
        await expect(store.listByUser(longest.userId)).resolves.toMatchObject([{ key }]);
      });
    });

    describe('revision', () => {
      async function revisionColumn(table: string, key: string): Promise<number | undefined> {
        const [rows] = await pool.query<RowDataPacket[]>(`SELECT revision FROM \`${table}\` WHERE session_key = ?`, [key]);
        return rows[0] === undefined ? undefined : Number(rows[0].revision);
      }
      const manyKeys = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, index]));

      it('lives in the revision column: 1 for a new row, +1 per update (either path) and per set that replaces it, left alone by touch', async () => {
        const { store, table } = await openStore();
        const key = newKey();
        const stored = record();
        await store.set(key, stored);
        await expect(revisionColumn(table, key)).resolves.toBe(1);
        await expect(store.update(key, patch({ set: { a: 1 }, revision: 1 }))).resolves.toBe(true);
        await expect(revisionColumn(table, key)).resolves.toBe(2);
        await expect(store.update(key, patch({ set: { a: 2 } }))).resolves.toBe(true); // no revision: unconditional, still advances
        await expect(revisionColumn(table, key)).resolves.toBe(3);
        await expect(store.update(key, patch({ set: manyKeys(70), revision: 3 }))).resolves.toBe(true); // the transaction path
        await expect(revisionColumn(table, key)).resolves.toBe(4);
        await store.touch(key, { ...stored, touchedAt: Date.now() + 5_000, expiresAt: Date.now() + 300_000 });
        await expect(revisionColumn(table, key)).resolves.toBe(4);
        const replacement = record({ data: { replaced: true } });
        await store.set(key, replacement);
        await expect(revisionColumn(table, key)).resolves.toBe(5);
        await expect(store.get(key)).resolves.toEqual({ ...replacement, revision: 5 });
      });

      it('one statement when nothing conflicts; on a stale revision a read and one more, merging on top; a read to learn it is gone', async () => {
        const { table } = await openStore();
        const { pool: counting, sent } = interposed(pool);
        const store = new MysqlStore({ pool: counting, tableName: table, cleanupInterval: false });
        const key = newKey();
        await store.set(key, record({ data: { base: true } }));
        const since = (count: number) => sent.slice(count).map((sql) => sql.split(' ')[0]);

        let before = sent.length;
        await expect(store.update(key, patch({ set: { first: 1 }, revision: 1 }))).resolves.toBe(true);
        expect(since(before)).toEqual(['UPDATE']);

        before = sent.length;
        await expect(store.update(key, patch({ set: { second: 2 }, revision: 1 }))).resolves.toBe(true); // the row is at 2
        expect(since(before)).toEqual(['UPDATE', 'SELECT', 'UPDATE']);
        await expect(store.get(key)).resolves.toMatchObject({ data: { base: true, first: 1, second: 2 }, revision: 3 });

        await store.destroy(key);
        before = sent.length;
        await expect(store.update(key, patch({ set: { third: 3 }, revision: 3 }))).resolves.toBe(false);
        expect(since(before)).toEqual(['UPDATE', 'SELECT']);
        await store.close();
      });

      it('an update that waited for a concurrent writer\'s row lock applies on top of what that writer committed', async () => {
        const { store, table } = await openStore();
        const key = newKey();
        await store.set(key, record({ data: { base: true } }));
        const writer = await pool.getConnection();
        let waiting: Promise<boolean> | undefined;
        try {
          await writer.query('START TRANSACTION');
          await writer.query(`UPDATE \`${table}\` SET data = JSON_SET(data, '$.other', true), revision = revision + 1 WHERE session_key = ?`, [key]);
          waiting = store.update(key, patch({ set: { mine: true }, revision: 1 })); // waits for the lock
          await sleep(100);
          await writer.query('COMMIT');
        } finally {
          writer.release();
        }
        await expect(waiting).resolves.toBe(true);
        await expect(store.get(key)).resolves.toMatchObject({ data: { base: true, other: true, mine: true }, revision: 3 });
      });

      it('a patch of more than 64 keys made on a stale revision, while live, applies on top and advances it too', async () => {
        const { store } = await openStore();
        const key = newKey();
        await store.set(key, record({ data: { base: true } }));
        await store.update(key, patch({ set: { first: 1 }, revision: 1 }));
        await expect(store.update(key, patch({ set: manyKeys(70), revision: 1 }))).resolves.toBe(true);
        await expect(store.get(key)).resolves.toMatchObject({ data: { base: true, first: 1, ...manyKeys(70) }, revision: 3 });
      });

      it.each<[string, unknown]>([
        ['negative', -1],
        ['a fraction', 1.5],
        ['NaN', Number.NaN],
        ['a string', '1'],
      ])('refuses a patch revision that is %s, writing nothing', async (_label, revision) => {
        const { store } = await openStore();
        const key = newKey();
        await store.set(key, record());
        await expect(store.update(key, patch({ set: { changed: true }, revision: revision as number }))).rejects.toThrow(
          /patch\.revision must be a whole number >= 0/,
        );
        await expect(store.get(key)).resolves.toMatchObject({ data: { visits: 1 }, revision: 1 });
      });

      it('retries within one operationTimeout at most, and sends nothing once it has passed', async () => {
        const { table } = await openStore();
        const key = newKey();
        // Another writer commits before every revision-checked UPDATE the store sends: a session
        // that always moves on while the store reads it.
        const { pool: overtaken, sent } = interposed(pool, async (sql) => {
          if (sql.endsWith('AND revision = ?')) {
            await pool.query(`UPDATE \`${table}\` SET revision = revision + 1 WHERE session_key = ?`, [key]);
          }
        });
        const store = new MysqlStore({ pool: overtaken, tableName: table, operationTimeout: 300, cleanupInterval: false });
        await store.set(key, record());

        const started = performance.now();
        const outcome = await store.update(key, patch({ set: { never: true }, revision: 1 })).catch((error: unknown) => error);
        const elapsed = performance.now() - started;
        expect(outcome).toBeInstanceOf(SessionStoreError);
        expect((outcome as Error).message).toMatch(/update timed out after 300 ms/);
        expect(elapsed).toBeGreaterThanOrEqual(290);
        expect(elapsed).toBeLessThan(1_000);
        const attempts = sent.filter((sql) => sql.endsWith('AND revision = ?')).length;
        expect(attempts).toBeGreaterThan(1); // it did try again, on and on, while live
        const sentAtTimeout = sent.length;
        await sleep(300);
        expect(sent.length).toBe(sentAtTimeout);
        await expect(store.get(key)).resolves.toMatchObject({ data: { visits: 1 } });
        await store.close();
      });

      it('createTable adds the column to a table created before it, from several instances at once: old rows load at revision 0 and update on', async () => {
        const table = uniqueName('sessions');
        tables.push(table);
        await pool.query(ownersSchemaSql(table));
        const userId = uniqueName('user');
        const before = record({ data: { old: true }, owner: owner(userId), cookieMaxAge: 5_000 });
        const oldKey = newKey();
        await pool.query(
          `INSERT INTO \`${table}\` (session_key, data, created_at, touched_at, expires_at, cookie_max_age, user_id, user_ip, user_agent, owner_ends_by) ` +
            'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          [oldKey, JSON.stringify(before.data), before.createdAt, before.touchedAt, before.expiresAt, before.cookieMaxAge,
            before.owner!.userId, before.owner!.ip, before.owner!.userAgent, before.owner!.endsBy],
        );
        const instances = Array.from({ length: 4 }, () => new MysqlStore({ pool, tableName: table, cleanupInterval: false }));
        stores.push(...instances);
        await expect(Promise.all(instances.map((instance) => instance.createTable()))).resolves.toHaveLength(4);
        const [store] = instances;
        await expect(store.get(oldKey)).resolves.toEqual({ ...before, revision: 0 });
        await expect(store.listByUser(userId)).resolves.toEqual([{ key: oldKey, record: { ...before, revision: 0 } }]);
        await expect(store.update(oldKey, patch({ set: { more: true }, revision: 0 }))).resolves.toBe(true);
        await expect(store.get(oldKey)).resolves.toMatchObject({ data: { old: true, more: true }, revision: 1 });
        await expect(store.update(oldKey, patch({ set: { again: true }, revision: 1 }))).resolves.toBe(true);
        await expect(revisionColumn(table, oldKey)).resolves.toBe(2);

        // Upgraded and new tables end up alike, column for column.
        const shape = async (name: string) =>
          (
            await pool.query<RowDataPacket[]>(
              'SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLLATION_NAME FROM information_schema.COLUMNS ' +
                'WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
              [name],
            )
          )[0];
        const { table: fresh } = await openStore();
        expect(await shape(table)).toEqual(await shape(fresh));
      });
    });

    describe('when a partition heals late (held statements arrive after newer ones)', () => {
      let store: MysqlStore;
      let table: string;
      let proxied: ProxiedMysqlStore;

      beforeAll(async () => {
        ({ store, table } = await openStore());
      });

      beforeEach(async () => {
        proxied = await behindProxy(table);
      });

      afterEach(async () => {
        await proxied.close();
      });

      /**
       * Runs `send(key)` through the proxied store during a partition (it times out: the request
       * would answer 503, and the store closes the connection it was waiting on), heals the
       * partition with the held bytes delivered late, runs `meanwhile` on the direct store, and
       * resolves once the held statement and then its connection's close have reached the server.
       * `send` runs once on a scratch row first, so the statement is already prepared on the one
       * connection and goes out in one go (a statement still waiting for its PREPARE answer at the
       * timeout is never executed: nothing late can land).
       */
      async function holdBack(key: string, send: (key: string) => Promise<unknown>, meanwhile: () => Promise<void>): Promise<void> {
        const scratch = newKey();
        await store.set(scratch, record());
        await send(scratch);
        proxied.proxy.freeze();
        const started = performance.now();
        await expect(send(key)).rejects.toBeInstanceOf(SessionStoreError);
        expect(performance.now() - started).toBeLessThan(PROXIED_OPERATION_TIMEOUT + 700);
        proxied.proxy.heal({ heldConnectionsAfterMs: 300 });
        await meanwhile();
        await proxied.proxy.released();
        // The held connection goes once its delayed close is through; the server has read the
        // statement before that close.
        await waitFor(() => Promise.resolve(proxied.proxy.connectionCount === 0));
        await sleep(200);
      }

      it('an update naming its revision, delivered after a newer acknowledged write, reaches the server and changes nothing', async () => {
        const key = newKey();
        await store.set(key, record({ data: { visits: 1 } }));
        const read = await store.get(key);
        await holdBack(
          key,
          (target) => proxied.store.update(target, patch({ set: { visits: 'late' }, revision: read!.revision })),
          async () => {
            await expect(store.update(key, patch({ set: { visits: 2 }, revision: read!.revision }))).resolves.toBe(true);
          },
        );
        await expect(store.get(key)).resolves.toMatchObject({ data: { visits: 2 }, revision: 2 });
      });

      it('control: the same update without a revision, delivered just as late, overwrites the newer write', async () => {
        const key = newKey();
        await store.set(key, record({ data: { visits: 1 } }));
        await holdBack(
          key,
          (target) => proxied.store.update(target, patch({ set: { visits: 'late' } })),
          async () => {
            await expect(store.update(key, patch({ set: { visits: 2 } }))).resolves.toBe(true);
          },
        );
        await expect(store.get(key)).resolves.toMatchObject({ data: { visits: 'late' }, revision: 3 });
      });

      it('a touch delivered late never moves the lifetime back', async () => {
        const key = newKey();
        const stored = record();
        await store.set(key, stored);
        const older = { ...stored, touchedAt: stored.touchedAt + 1_000, expiresAt: stored.expiresAt + 1_000 };
        const newer = { ...stored, touchedAt: stored.touchedAt + 5_000, expiresAt: stored.expiresAt + 5_000 };
        await holdBack(key, (target) => proxied.store.touch(target, older), () => store.touch(key, newer));
        await expect(store.get(key)).resolves.toEqual({ ...stored, touchedAt: newer.touchedAt, expiresAt: newer.expiresAt, revision: 1 });
      });
    });

    describe('deadlocks', () => {
      it('retries an update InnoDB rolled back as a deadlock victim, and it lands', async () => {
        // The store's pool, seen through a wrapper that notes each failed statement.
        const failures: unknown[] = [];
        const watched = Object.create(pool) as Pool;
        watched.getConnection = async () => {
          const connection = await pool.getConnection();
          const execute = connection.execute.bind(connection);
          connection.execute = ((...args: Parameters<typeof execute>) =>
            execute(...args).catch((error: unknown) => {
              failures.push((error as { code?: unknown }).code);
              throw error;
            })) as typeof execute;
          return connection;
        };
        const { store, table } = await openStore({}, watched);
        const key = newKey();
        await store.set(key, record({ data: { base: true } }));
        const others = Array.from({ length: 5 }, () => newKey());
        for (const other of others) await store.set(other, record());

        const rival = await pool.getConnection();
        try {
          // The rival has written five rows (so InnoDB prefers to roll back the store's one-row
          // statement), and share-locks the end of the expires_at index, where the store's update
          // must insert the session's new expiry. FORCE INDEX keeps it from scanning (and so
          // locking) the session's row on this tiny table.
          await rival.query('START TRANSACTION');
          await rival.query(`UPDATE \`${table}\` FORCE INDEX (PRIMARY) SET touched_at = touched_at + 1 WHERE session_key IN (?)`, [
            others,
          ]);
          await rival.query(`SELECT expires_at FROM \`${table}\` FORCE INDEX (expires_at_idx) WHERE expires_at > ? LOCK IN SHARE MODE`, [
            Date.now() + 120_000,
          ]);
          // The store locks the row, then waits to insert its index entry...
          const updating = store.update(key, patch({ set: { landed: true }, expiresAt: Date.now() + 3_600_000 }));
          await sleep(150);
          // ...and the rival now asks for the row: a cycle, and the store's statement is the victim.
          await rival.query(`UPDATE \`${table}\` SET touched_at = touched_at + 1 WHERE session_key = ?`, [key]);
          await rival.query('COMMIT');
          await expect(updating).resolves.toBe(true);
        } finally {
          rival.destroy(); // never hand a connection that may hold a transaction back to the pool
        }
        await expect(store.get(key)).resolves.toMatchObject({ data: { base: true, landed: true } });
        expect(failures).toEqual(['ER_LOCK_DEADLOCK']);
      });
    });

    describe('expired rows', () => {
      it('deleteExpired deletes only expired rows, in batches, and says how many', async () => {
        const { store, table } = await openStore();
        const live = newKey();
        await store.set(live, record());
        for (let index = 0; index < 3; index++) await store.set(newKey(), expiredRecord());
        // A backlog larger than one batch of 1000.
        const past = Date.now() - 1_000;
        const rows = Array.from({ length: 2_500 }, (_, index) => [`bulk${index}`, '{}', past, past, past, null]);
        await pool.query(`INSERT INTO \`${table}\` (session_key, data, created_at, touched_at, expires_at, cookie_max_age) VALUES ?`, [rows]);

        await expect(store.deleteExpired()).resolves.toBe(2_503);
        await expect(rowCount(table)).resolves.toBe(1);
        await expect(store.get(live)).resolves.toBeDefined();
        await expect(store.deleteExpired()).resolves.toBe(0);
      });

      it('the cleanup timer never keeps the process alive (it is unref\'d)', async () => {
        const refTimers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
        const before = refTimers();
        const store = new MysqlStore({ pool, cleanupInterval: 60_000 });
        expect(refTimers()).toBe(before);
        await store.close();
      });

      it('the cleanup timer sweeps expired rows, and close() stops it', async () => {
        const { store, table } = await openStore({ cleanupInterval: 40 });
        const live = newKey();
        await store.set(live, record());
        await store.set(newKey(), expiredRecord());
        await waitFor(async () => (await rowCount(table)) === 1);
        await expect(store.get(live)).resolves.toBeDefined();

        await store.close();
        await store.set(newKey(), expiredRecord());
        await sleep(200);
        await expect(rowCount(table)).resolves.toBe(2);
      });
    });

    describe('when the server goes away', () => {
      const OPERATION_TIMEOUT = 500;
      let proxy: TcpProxy;
      let proxied: Pool;
      let store: MysqlStore;
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);

      beforeAll(async () => {
        process.on('unhandledRejection', onUnhandled);
        proxy = await new TcpProxy(3306).start();
        proxied = createPool({ ...SERVER, port: proxy.port, connectionLimit: 4, connectTimeout: 1_000 });
        ({ store } = await openStore({ operationTimeout: OPERATION_TIMEOUT }, proxied));
      });

      afterEach(() => {
        proxy.restore();
      });

      afterAll(async () => {
        await store.close();
        await proxied.end();
        await proxy.stop();
        process.off('unhandledRejection', onUnhandled);
      });

      /** Every store operation at once, the transaction path of update included. */
      function everyOperation(key: string): Promise<unknown>[] {
        const large = patch({ set: Object.fromEntries(Array.from({ length: 70 }, (_, index) => [`k${index}`, index])) });
        return [
          store.get(key),
          store.set(newKey(), record()),
          store.update(key, patch({ set: { during: true } })),
          store.update(key, large),
          store.touch(key, record()),
          store.destroy(newKey()),
          store.deleteExpired(),
        ];
      }

      it('rejects every operation with a SessionStoreError within the operation timeout, then works again on the same pool', async () => {
        const key = newKey();
        await store.set(key, record({ data: { before: true } }));
        await Promise.all(Array.from({ length: 4 }, () => store.get(key))); // several pooled connections open

        proxy.cut();
        const started = performance.now();
        const outcomes = await Promise.allSettled(everyOperation(key));
        const elapsed = performance.now() - started;

        for (const outcome of outcomes) {
          expect(outcome.status).toBe('rejected');
          expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(SessionStoreError);
        }
        expect(elapsed).toBeLessThan(OPERATION_TIMEOUT + 500);

        proxy.restore();
        await expect(store.get(key)).resolves.toMatchObject({ data: { before: true } });
        await expect(store.update(key, patch({ set: { after: true } }))).resolves.toBe(true);
        await expect(store.get(key)).resolves.toMatchObject({ data: { before: true, after: true } });
        expect(unhandled).toEqual([]);
      });

      it('operations in flight when the connections drop settle (rejected as SessionStoreError or done), none hangs', async () => {
        const key = newKey();
        await store.set(key, record({ data: {} }));
        const started = performance.now();
        const inFlight = Array.from({ length: 10 }, () => everyOperation(key)).flat();
        setTimeout(() => proxy.cut(), 2);
        const outcomes = await Promise.allSettled(inFlight);
        expect(performance.now() - started).toBeLessThan(OPERATION_TIMEOUT + 1_000);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(SessionStoreError);
        }
        expect(outcomes.some((outcome) => outcome.status === 'rejected')).toBe(true);

        proxy.restore();
        await expect(store.get(key)).resolves.toBeDefined();
        expect(unhandled).toEqual([]);
      });

      it('times out with a SessionStoreError when the server accepts connections but never answers', async () => {
        // A black hole: connections are accepted and then left silent, so only the operation
        // timeout (500 ms, shorter than the pool's 1 s connectTimeout) ends the wait.
        const sockets = new Set<Socket>();
        const blackHole: Server = createServer((socket) => {
          sockets.add(socket);
          socket.on('error', () => undefined);
        });
        await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
        const port = (blackHole.address() as { port: number }).port;
        const silentPool = createPool({ ...SERVER, port, connectionLimit: 2, connectTimeout: 1_000 });
        const silent = new MysqlStore({ pool: silentPool, operationTimeout: OPERATION_TIMEOUT, cleanupInterval: false });
        try {
          const started = performance.now();
          const outcomes = await Promise.allSettled([silent.get(newKey()), silent.set(newKey(), record()), silent.update(newKey(), patch())]);
          const elapsed = performance.now() - started;
          for (const outcome of outcomes) {
            expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(SessionStoreError);
            expect((outcome as PromiseRejectedResult).reason.message).toMatch(/timed out after 500 ms/);
          }
          expect(elapsed).toBeGreaterThanOrEqual(OPERATION_TIMEOUT - 20);
          expect(elapsed).toBeLessThan(OPERATION_TIMEOUT + 400);
        } finally {
          await silent.close();
          for (const socket of sockets) socket.destroy();
          await sleep(50); // let the pool see its connection attempts fail
          await silentPool.end().catch(() => undefined);
          await new Promise<void>((resolve) => blackHole.close(() => resolve()));
        }
        expect(unhandled).toEqual([]);
      });

      it('reports a failed background sweep to onCleanupError, and sweeps again once the server is back', async () => {
        const errors: unknown[] = [];
        const { store: sweeping, table } = await openStore(
          { cleanupInterval: 40, operationTimeout: OPERATION_TIMEOUT, onCleanupError: (error) => errors.push(error) },
          proxied,
        );
        proxy.cut();
        await waitFor(() => Promise.resolve(errors.length > 0));
        expect(errors[0]).toBeInstanceOf(SessionStoreError);

        proxy.restore();
        await sweeping.set(newKey(), expiredRecord());
        await waitFor(async () => (await rowCount(table)) === 0);
        await sweeping.close();
        expect(unhandled).toEqual([]);
      });
    });
  });
});

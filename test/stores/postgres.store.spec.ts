import { Pool, type PoolConfig } from 'pg';
import { SessionConfigError, SessionStoreError, type SessionOwner, type SessionPatch, type SessionRecord, type SessionStore } from '@app/session';
import {
  DEFAULT_POSTGRES_CLEANUP_INTERVAL,
  POSTGRES_SCHEMA,
  PostgresStore,
  renderPostgresSchema,
  type PostgresStoreOptions,
} from '@app/session';
import { describeWithService, uniqueName } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { sleep } from '../support/test-stores';
import { newKey, runStoreContract, type ProxiedStore } from './store-contract';

const PG_PORT = 5432;
const PG_CONFIG: PoolConfig = { host: '127.0.0.1', port: PG_PORT, user: 'postgres', database: 'test' };

/** A pool to the real server whose idle-connection errors are collected, as an application logs them. */
function newPool(config: PoolConfig = {}, errors: unknown[] = []): Pool {
  const pool = new Pool({ ...PG_CONFIG, ...config });
  pool.on('error', (error) => errors.push(error));
  return pool;
}

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  return { data: { user: { id: 'alice' }, visits: 1 }, createdAt: now, touchedAt: now, expiresAt: now + 60_000, ...overrides };
}

function patch(overrides: Partial<SessionPatch> = {}): SessionPatch {
  return { set: {}, unset: [], touchedAt: Date.now(), expiresAt: Date.now() + 120_000, ...overrides };
}

function owner(userId: string, overrides: Partial<SessionOwner> = {}): SessionOwner {
  return { userId, ip: '198.51.100.4', userAgent: 'Mozilla/5.0 Test', endsBy: Date.now() + 3_600_000, ...overrides };
}

/** The table as the first releases created it, before the owner columns. */
function oldSchemaSql(tableName: string): string {
  const parts = tableName.split('.');
  const table = parts.map((part) => `"${part}"`).join('.');
  return `CREATE TABLE ${table} (
    key TEXT PRIMARY KEY, data JSONB NOT NULL, created_at BIGINT NOT NULL, touched_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL, cookie_max_age BIGINT);
  CREATE INDEX "${parts[parts.length - 1]}_expires_at_idx" ON ${table} (expires_at);`;
}

/** The table as the releases with owners created it: before the revision column. */
function ownersSchemaSql(tableName: string): string {
  const parts = tableName.split('.');
  const table = parts.map((part) => `"${part}"`).join('.');
  return `${oldSchemaSql(tableName)}
  ALTER TABLE ${table} ADD COLUMN user_id TEXT, ADD COLUMN user_ip TEXT, ADD COLUMN user_agent TEXT, ADD COLUMN owner_ends_by BIGINT;
  CREATE INDEX "${parts[parts.length - 1]}_user_id_idx" ON ${table} (user_id, created_at) WHERE user_id IS NOT NULL;`;
}

/** Short, so the partition tests stay quick: the proxied store gives up after this long. */
const PROXIED_OPERATION_TIMEOUT = 300;

/** A {@link ProxiedStore} whose pool is also reachable, to learn which server process it talks to. */
interface ProxiedPostgresStore extends ProxiedStore {
  readonly store: PostgresStore;
  readonly pool: Pool;
}

/**
 * A second store on `store`'s table whose one connection goes through a {@link TcpProxy} of the
 * test's own (what the contract suite's `behindProxy` asks for), with a short operation timeout.
 */
async function behindProxy(store: SessionStore): Promise<ProxiedPostgresStore> {
  const proxy = await new TcpProxy(PG_PORT).start();
  // One connection: the statement that times out is sent on the connection opened before the
  // partition (whose server process the tests can name), not on a fresh one stuck connecting.
  const proxiedPool = newPool({ port: proxy.port, max: 1 });
  const proxied = new PostgresStore({
    pool: proxiedPool,
    tableName: (store as PostgresStore).tableName,
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

/** Counts the statements the store sends through `pool` (every client, from its creation on). */
function countStatements(pool: Pool): { readonly count: number } {
  const counter = { count: 0 };
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      counter.count++;
      return query(...args);
    };
  });
  return counter;
}

const expired = (): Partial<SessionRecord> => ({ createdAt: Date.now() - 10_000, touchedAt: Date.now() - 10_000, expiresAt: Date.now() - 1 });

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

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

/**
 * A table (or a schema holding one) under a name no other run uses, and the admin pool that drops
 * it afterwards.
 */
class Scratch {
  readonly admin = newPool();
  readonly #schemas: string[] = [];
  readonly #tables: string[] = [];

  /** A fresh unqualified table name, dropped by {@link drop}. */
  table(): string {
    const name = uniqueName('sessions');
    this.#tables.push(name);
    return name;
  }

  /** A fresh schema (created now, dropped with everything in it by {@link drop}) and a table name inside it. */
  async qualifiedTable(): Promise<string> {
    const schema = uniqueName('auth');
    this.#schemas.push(schema);
    await this.admin.query(`CREATE SCHEMA "${schema}"`);
    return `${schema}.${uniqueName('sessions')}`;
  }

  async count(tableName: string, where = 'TRUE'): Promise<number> {
    const quoted = tableName.split('.').map((part) => `"${part}"`).join('.');
    const result = await this.admin.query<{ count: string }>(`SELECT count(*) AS count FROM ${quoted} WHERE ${where}`);
    return Number(result.rows[0].count);
  }

  async drop(): Promise<void> {
    for (const table of this.#tables) await this.admin.query(`DROP TABLE IF EXISTS "${table}"`);
    for (const schema of this.#schemas) await this.admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await this.admin.end();
  }
}

describeWithService('postgres')('PostgresStore', () => {
  describe.each([
    ['an unqualified table', false],
    ['a schema-qualified table', true],
  ])('honours the store contract on %s', (_label, qualified) => {
    let scratch: Scratch;
    let pool: Pool;

    runStoreContract({
      create: async () => {
        scratch = new Scratch();
        pool = newPool();
        const tableName = qualified ? await scratch.qualifiedTable() : scratch.table();
        const store = new PostgresStore({ pool, tableName, cleanupInterval: false });
        await store.createTable();
        return store;
      },
      cleanup: async (store) => {
        await store.close?.();
        await pool.end();
        await scratch.drop();
      },
      behindProxy,
    });
  });

  describe('with a table of its own', () => {
    let scratch: Scratch;
    let pool: Pool;
    let tableName: string;
    let store: PostgresStore;

    const storeOn = (options: Partial<PostgresStoreOptions> = {}) =>
      new PostgresStore({ pool, tableName, cleanupInterval: false, ...options });

    beforeAll(async () => {
      scratch = new Scratch();
      pool = newPool();
      tableName = scratch.table();
      store = storeOn();
      await store.createTable();
    });

    afterAll(async () => {
      await store.close();
      await pool.end();
      await scratch.drop();
    });

    describe('schema', () => {
      it('createTable can run again, and from several instances at once, without error', async () => {
        await expect(store.createTable()).resolves.toBeUndefined();
        const others = Array.from({ length: 5 }, () => storeOn());
        await expect(Promise.all(others.map((other) => other.createTable()))).resolves.toHaveLength(5);
        await Promise.all(others.map((other) => other.close()));
      });

      it('concurrent createTable calls on a table that does not exist yet all succeed and create it once', async () => {
        const fresh = scratch.table();
        const stores = Array.from({ length: 8 }, () => new PostgresStore({ pool, tableName: fresh, cleanupInterval: false }));
        await expect(Promise.all(stores.map((each) => each.createTable()))).resolves.toHaveLength(8);
        await expect(scratch.count(fresh)).resolves.toBe(0);
        await Promise.all(stores.map((each) => each.close()));
      });

      it('creates the documented columns and the expires_at index', async () => {
        const columns = await scratch.admin.query<{ column_name: string; data_type: string; is_nullable: string }>(
          `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
          [tableName],
        );
        expect(columns.rows).toEqual([
          { column_name: 'key', data_type: 'text', is_nullable: 'NO' },
          { column_name: 'data', data_type: 'jsonb', is_nullable: 'NO' },
          { column_name: 'created_at', data_type: 'bigint', is_nullable: 'NO' },
          { column_name: 'touched_at', data_type: 'bigint', is_nullable: 'NO' },
          { column_name: 'expires_at', data_type: 'bigint', is_nullable: 'NO' },
          { column_name: 'cookie_max_age', data_type: 'bigint', is_nullable: 'YES' },
          { column_name: 'user_id', data_type: 'text', is_nullable: 'YES' },
          { column_name: 'user_ip', data_type: 'text', is_nullable: 'YES' },
          { column_name: 'user_agent', data_type: 'text', is_nullable: 'YES' },
          { column_name: 'owner_ends_by', data_type: 'bigint', is_nullable: 'YES' },
          { column_name: 'revision', data_type: 'bigint', is_nullable: 'NO' },
        ]);
        const indexes = await scratch.admin.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE tablename = $1`, [tableName]);
        expect(indexes.rows.map((row) => row.indexdef)).toEqual(
          expect.arrayContaining([
            expect.stringMatching(/UNIQUE INDEX .* USING btree \(key\)/),
            expect.stringMatching(/INDEX .* USING btree \(expires_at\)/),
            expect.stringMatching(/INDEX "?\w+_user_id_idx"? ON .* USING btree \(user_id, created_at\) WHERE \(user_id IS NOT NULL\)/),
          ]),
        );
      });

      it('gives a 48-character table (the longest accepted) both indexes under their full names', async () => {
        const longest = `${uniqueName('s')}_`.padEnd(48, 'x');
        expect(longest).toHaveLength(48);
        const own = new PostgresStore({ pool, tableName: longest, cleanupInterval: false });
        try {
          await own.createTable();
          await own.createTable(); // finds them again under the same names
          const indexes = await scratch.admin.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE tablename = $1`, [longest]);
          expect(indexes.rows.map((row) => row.indexname).sort()).toEqual([`${longest}_expires_at_idx`, `${longest}_pkey`, `${longest}_user_id_idx`].sort());
        } finally {
          await own.close();
          await scratch.admin.query(`DROP TABLE IF EXISTS "${longest}"`);
        }
      });

      it('the exported schema SQL, run as a migration, gives a table the store works with', async () => {
        expect(POSTGRES_SCHEMA).toContain('CREATE TABLE IF NOT EXISTS "sessions"');
        const migrated = await scratch.qualifiedTable();
        await scratch.admin.query(renderPostgresSchema(migrated));
        await scratch.admin.query(renderPostgresSchema(migrated)); // idempotent
        const onMigrated = new PostgresStore({ pool, tableName: migrated, cleanupInterval: false });
        const key = newKey();
        await onMigrated.set(key, record());
        await expect(onMigrated.get(key)).resolves.toMatchObject({ data: { visits: 1 } });
        await expect(scratch.count(migrated)).resolves.toBe(1);
        await onMigrated.close();
      });

      it('createTable upgrades a table created without the owner columns, keeping its rows', async () => {
        const old = scratch.table();
        await scratch.admin.query(oldSchemaSql(old));
        const before = record({ cookieMaxAge: 5_000 });
        const oldKey = newKey();
        await scratch.admin.query(
          `INSERT INTO "${old}" (key, data, created_at, touched_at, expires_at, cookie_max_age) VALUES ($1, $2, $3, $4, $5, $6)`,
          [oldKey, JSON.stringify(before.data), before.createdAt, before.touchedAt, before.expiresAt, before.cookieMaxAge],
        );
        const upgraded = new PostgresStore({ pool, tableName: old, cleanupInterval: false });
        await Promise.all([upgraded.createTable(), upgraded.createTable(), upgraded.createTable()]); // instances booting at once
        // Anonymous: no owner, no undefined keys; written before revisions: revision 0.
        await expect(upgraded.get(oldKey)).resolves.toEqual({ ...before, revision: 0 });

        const userId = uniqueName('user');
        const signedIn = record({ owner: owner(userId) });
        const newer = newKey();
        await upgraded.set(newer, signedIn);
        await expect(upgraded.get(newer)).resolves.toEqual({ ...signedIn, revision: 1 });
        await expect(upgraded.update(oldKey, patch({ owner: owner(userId, { userAgent: 'old device' }), revision: 0 }))).resolves.toBe(true);
        const listed = await upgraded.listByUser(userId);
        expect(listed.map((entry) => entry.key)).toEqual([oldKey, newer]); // the old row was created first
        expect(listed[0].record.revision).toBe(1);
        expect(listed[1].record).toEqual({ ...signedIn, revision: 1 });
        const indexes = await scratch.admin.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE tablename = $1`, [old]);
        expect(indexes.rows.map((row) => row.indexname)).toContain(`${old}_user_id_idx`);
        await upgraded.close();
      });

      it('renderPostgresSchema, run as a migration on a table created without the owner columns, upgrades it', async () => {
        const old = await scratch.qualifiedTable();
        await scratch.admin.query(oldSchemaSql(old));
        const schema = renderPostgresSchema(old);
        expect(schema).toMatch(/ALTER TABLE "\w+"\."\w+"\n {2}ADD COLUMN IF NOT EXISTS user_id TEXT,/);
        await scratch.admin.query(schema);
        await scratch.admin.query(schema); // idempotent on the upgraded table too
        const onMigrated = new PostgresStore({ pool, tableName: old, cleanupInterval: false });
        const key = newKey();
        const userId = uniqueName('user');
        const stored = record({ owner: owner(userId) });
        await onMigrated.set(key, stored);
        await expect(onMigrated.listByUser(userId)).resolves.toEqual([{ key, record: { ...stored, revision: 1 } }]);
        await onMigrated.close();
      });

      it('createTable on an up-to-date table takes no table lock: it does not wait behind a long transaction', async () => {
        // ALTER TABLE (even with nothing to add) and CREATE INDEX IF NOT EXISTS both wait for the
        // transactions using the table; a session row written and not yet committed is one.
        const key = newKey();
        await store.set(key, record());
        const fast = storeOn({ operationTimeout: 500 });
        const writer = await scratch.admin.connect();
        try {
          await writer.query('BEGIN');
          await writer.query(`UPDATE "${tableName}" SET touched_at = touched_at + 1 WHERE key = $1`, [key]);
          await expect(fast.createTable()).resolves.toBeUndefined();
        } finally {
          await writer.query('ROLLBACK');
          writer.release();
        }
        await fast.close();
      });

      it('a schema-qualified name puts the table in that schema', async () => {
        const qualified = await scratch.qualifiedTable();
        const [schema, table] = qualified.split('.');
        const inSchema = new PostgresStore({ pool, tableName: qualified, cleanupInterval: false });
        await inSchema.createTable();
        await inSchema.set(newKey(), record());
        const found = await scratch.admin.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`, [schema, table]);
        expect(found.rowCount).toBe(1);
        const inPublic = await scratch.admin.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_name = $1`, [table]);
        expect(inPublic.rowCount).toBe(0);
        await inSchema.close();
      });
    });

    describe('stored values', () => {
      it('gives timestamps and the cookie lifetime back as numbers, although BIGINT arrives as a string', async () => {
        const key = newKey();
        const stored = record({ cookieMaxAge: 86_400_000 });
        await store.set(key, stored);
        const raw = await scratch.admin.query(`SELECT created_at FROM "${tableName}" WHERE key = $1`, [key]);
        expect(typeof raw.rows[0].created_at).toBe('string'); // what pg hands back for BIGINT
        const loaded = await store.get(key);
        expect(loaded).toEqual({ ...stored, revision: 1 });
        for (const field of ['createdAt', 'touchedAt', 'expiresAt', 'cookieMaxAge', 'revision'] as const) {
          expect(typeof loaded![field]).toBe('number');
        }
        expect(loaded!.expiresAt + 1).toBe(stored.expiresAt + 1); // arithmetic, not string concatenation
      });

      it('stores ordinary data as plain JSONB that SQL can read', async () => {
        const key = newKey();
        await store.set(key, record({ data: { user: { id: 'alice' }, 'a.b': 'dotted' } }));
        const raw = await scratch.admin.query(`SELECT data->'user'->>'id' AS id, data->>'a.b' AS dotted FROM "${tableName}" WHERE key = $1`, [key]);
        expect(raw.rows[0]).toEqual({ id: 'alice', dotted: 'dotted' });
      });

      it.each<[string, Record<string, unknown>]>([
        ['NUL in values', { text: 'a\u0000b', list: ['\u0000', 'x\u0000'], nested: { deep: '\u0000\u0000' } }],
        ['NUL in keys', { 'k\u0000ey': 1, nested: { '\u0000': 'v' } }],
        ['lone surrogates', { high: 'a\ud800b', low: '\udc00', ['\ud83d']: 'key', pair: '🎉' }],
        ['strings and keys that start with the encoding marker', { marker: '\u0001', prefixed: '\u0001"x"', ['\u0001k']: '\u0001' }],
        ['text that looks like an escape', { escaped: '\\u0000 \\u0001 \\ud800', ['\\u0000']: 'key' }],
        ['a __proto__ key', JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') as Record<string, unknown>],
      ])('round-trips what JSONB cannot hold as is: %s', async (_label, data) => {
        const key = newKey();
        await store.set(key, record({ data }));
        const loaded = await store.get(key);
        expect(loaded?.data).toEqual(data);
        expect(Object.keys(loaded!.data).sort()).toEqual(Object.keys(data).sort());
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      });

      it('updates and removes keys that had to be encoded, leaving the others', async () => {
        const key = newKey();
        await store.set(key, record({ data: { 'k\u0000': 1, '\u0001m': 2, plain: 3, 'lone\ud800': 4 } }));
        await expect(
          store.update(key, patch({ set: { 'k\u0000': 'one', added: 'x\u0000y' }, unset: ['\u0001m', 'lone\ud800'] })),
        ).resolves.toBe(true);
        await expect(store.get(key)).resolves.toMatchObject({ data: { 'k\u0000': 'one', plain: 3, added: 'x\u0000y' } });
        expect(Object.keys((await store.get(key))!.data).sort()).toEqual(['added', 'k\u0000', 'plain']);
      });

      it('a key both unset and set by one patch ends up set', async () => {
        const key = newKey();
        await store.set(key, record({ data: { a: 1 } }));
        await store.update(key, patch({ set: { a: 2 }, unset: ['a'] }));
        await expect(store.get(key)).resolves.toMatchObject({ data: { a: 2 } });
      });
    });

    describe('owner', () => {
      it('keeps the owner in plain columns SQL can read, NULL for an anonymous session', async () => {
        const [signedIn, anonymous] = [newKey(), newKey()];
        const endsBy = Date.now() + 3_600_000;
        await store.set(signedIn, record({ owner: { userId: '42', ip: '::1', endsBy } }));
        await store.set(anonymous, record());
        const raw = await scratch.admin.query(
          `SELECT key, user_id, user_ip, user_agent, owner_ends_by FROM "${tableName}" WHERE key IN ($1, $2)`,
          [signedIn, anonymous],
        );
        const byKey = Object.fromEntries(raw.rows.map((row: { key: string }) => [row.key, row]));
        expect(byKey[signedIn]).toEqual({ key: signedIn, user_id: '42', user_ip: '::1', user_agent: null, owner_ends_by: String(endsBy) });
        expect(byKey[anonymous]).toEqual({ key: anonymous, user_id: null, user_ip: null, user_agent: null, owner_ends_by: null });
      });

      it('round-trips owner strings TEXT cannot hold as is, and lists by such a user id', async () => {
        const key = newKey();
        // NUL, which TEXT cannot hold. (A lone surrogate, which it cannot hold either, is refused by
        // every store: the other stores could not give it back.)
        const odd = { userId: 'u\u0000\ud83d\ude00', ip: '\u0001x', userAgent: 'a\u0000b', endsBy: Date.now() + 60_000 };
        const stored = record({ owner: odd });
        await store.set(key, stored);
        await expect(store.get(key)).resolves.toEqual({ ...stored, revision: 1 });
        await expect(store.listByUser(odd.userId)).resolves.toEqual([{ key, record: { ...stored, revision: 1 } }]);
        await expect(store.listByUser('u')).resolves.toEqual([]);
      });

      it.each<[string, unknown]>([
        ['empty', ''],
        ['256 characters', 'u'.repeat(256)],
        ['not a string', 42],
      ])('refuses a user id that is %s, in set and update, writing nothing', async (_label, userId) => {
        const key = newKey();
        const bad = owner(userId as string);
        await expect(store.set(key, record({ owner: bad }))).rejects.toThrow(
          expect.objectContaining({ name: 'SessionStoreError', message: expect.stringMatching(/owner\.userId must be a well-formed string of 1 to 255 characters/) }),
        );
        await expect(store.get(key)).resolves.toBeUndefined();
        await store.set(key, record());
        await expect(store.update(key, patch({ set: { changed: true }, owner: bad }))).rejects.toThrow(SessionStoreError);
        await expect(store.get(key)).resolves.toEqual(expect.not.objectContaining({ owner: expect.anything() }));
        expect((await store.get(key))?.data).not.toHaveProperty('changed');
      });

      it('accepts a user id of 255 characters', async () => {
        const key = newKey();
        const userId = `${uniqueName('u')}`.padEnd(255, 'x');
        await store.set(key, record({ owner: owner(userId) }));
        await expect(store.listByUser(userId)).resolves.toMatchObject([{ key }]);
      });

      it('listByUser reads the user_id index rather than the table', async () => {
        const client = await scratch.admin.connect();
        try {
          await client.query('BEGIN');
          await client.query('SET LOCAL enable_seqscan = off'); // a tiny table would be scanned whole otherwise
          const plan = await client.query<{ 'QUERY PLAN': string }>(
            `EXPLAIN SELECT key FROM "${tableName}" WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at, key`,
            ['alice', Date.now()],
          );
          expect(plan.rows.map((row) => row['QUERY PLAN']).join('\n')).toContain(`${tableName}_user_id_idx`);
        } finally {
          await client.query('ROLLBACK');
          client.release();
        }
      });
    });

    describe('revision', () => {
      const revisionColumn = async (key: string, table = tableName): Promise<string | undefined> => {
        const quoted = table.split('.').map((part) => `"${part}"`).join('.');
        const result = await scratch.admin.query<{ revision: string }>(`SELECT revision FROM ${quoted} WHERE key = $1`, [key]);
        return result.rows[0]?.revision;
      };

      it('lives in the revision column: 1 for a new row, +1 per update and per set that replaces it, left alone by touch', async () => {
        const key = newKey();
        const stored = record();
        await store.set(key, stored);
        await expect(revisionColumn(key)).resolves.toBe('1');
        await expect(store.update(key, patch({ set: { a: 1 }, revision: 1 }))).resolves.toBe(true);
        await expect(revisionColumn(key)).resolves.toBe('2');
        await expect(store.update(key, patch({ set: { a: 2 } }))).resolves.toBe(true); // no revision: unconditional, still advances
        await expect(revisionColumn(key)).resolves.toBe('3');
        await store.touch(key, { ...stored, touchedAt: Date.now() + 5_000, expiresAt: Date.now() + 300_000 });
        await expect(revisionColumn(key)).resolves.toBe('3');
        const replacement = record({ data: { replaced: true } });
        await store.set(key, replacement);
        await expect(revisionColumn(key)).resolves.toBe('4');
        await expect(store.get(key)).resolves.toEqual({ ...replacement, revision: 4 });
      });

      it('one statement when nothing conflicts or the session is gone; on a stale revision, one more, merging on top', async () => {
        const counting = newPool();
        const sent = countStatements(counting);
        const own = new PostgresStore({ pool: counting, tableName, cleanupInterval: false });
        try {
          const key = newKey();
          await own.set(key, record({ data: { base: true } }));
          let before = sent.count;
          await expect(own.update(key, patch({ set: { first: 1 }, revision: 1 }))).resolves.toBe(true);
          expect(sent.count - before).toBe(1);

          before = sent.count;
          // Read at revision 1, written after revision 2: the statement reports revision 2, the
          // second applies on top of it.
          await expect(own.update(key, patch({ set: { second: 2 }, revision: 1 }))).resolves.toBe(true);
          expect(sent.count - before).toBe(2);
          await expect(own.get(key)).resolves.toMatchObject({ data: { base: true, first: 1, second: 2 }, revision: 3 });

          await own.destroy(key);
          before = sent.count;
          await expect(own.update(key, patch({ set: { third: 3 }, revision: 3 }))).resolves.toBe(false);
          expect(sent.count - before).toBe(1); // "gone" comes back with the first answer
        } finally {
          await own.close();
          await counting.end();
        }
      });

      it('an update that waited for a concurrent writer\'s row lock applies on top of what that writer committed', async () => {
        const key = newKey();
        await store.set(key, record({ data: { base: true } }));
        const writer = await scratch.admin.connect();
        let waiting: Promise<boolean> | undefined;
        try {
          await writer.query('BEGIN');
          await writer.query(`UPDATE "${tableName}" SET data = data || '{"other": true}', revision = revision + 1 WHERE key = $1`, [key]);
          // Made on revision 1, it waits for the lock; its snapshot predates the commit below.
          waiting = store.update(key, patch({ set: { mine: true }, revision: 1 }));
          await sleep(100);
          await writer.query('COMMIT');
        } finally {
          writer.release();
        }
        await expect(waiting).resolves.toBe(true);
        await expect(store.get(key)).resolves.toMatchObject({ data: { base: true, other: true, mine: true }, revision: 3 });
      });

      it.each<[string, unknown]>([
        ['negative', -1],
        ['a fraction', 1.5],
        ['NaN', Number.NaN],
        ['a string', '1'],
      ])('refuses a patch revision that is %s, writing nothing', async (_label, revision) => {
        const key = newKey();
        await store.set(key, record());
        await expect(store.update(key, patch({ set: { changed: true }, revision: revision as number }))).rejects.toThrow(
          /patch\.revision must be a whole number >= 0/,
        );
        await expect(store.get(key)).resolves.toMatchObject({ data: { visits: 1 }, revision: 1 });
      });

      it('retries within one operationTimeout at most, and sends nothing once it has passed', async () => {
        const table = await scratch.qualifiedTable();
        const [schema] = table.split('.');
        const quoted = table.split('.').map((part) => `"${part}"`).join('.');
        const own = new PostgresStore({ pool, tableName: table, operationTimeout: 300, cleanupInterval: false });
        await own.createTable();
        // A session whose updates never apply while it stays live, as if another writer always
        // committed first: a BEFORE trigger skips them (RETURN NULL). It counts every attempt in
        // a sequence, which no rollback undoes.
        await scratch.admin.query(`
          CREATE SEQUENCE "${schema}".attempts;
          CREATE FUNCTION "${schema}".skip_update() RETURNS trigger LANGUAGE plpgsql
            AS $$BEGIN PERFORM nextval('"${schema}".attempts'); RETURN NULL; END$$;
          CREATE TRIGGER skip_update BEFORE UPDATE ON ${quoted} FOR EACH ROW WHEN (NEW.data ? 'never')
            EXECUTE FUNCTION "${schema}".skip_update();`);
        const attempts = async () =>
          Number((await scratch.admin.query<{ n: string }>(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM "${schema}".attempts`)).rows[0].n);
        const key = newKey();
        await own.set(key, record());

        const { error, elapsed } = await settle(() => own.update(key, patch({ set: { never: true }, revision: 1 })));
        expect(error).toBeInstanceOf(SessionStoreError);
        expect((error as Error).message).toMatch(/update timed out after 300 ms/);
        expect(elapsed).toBeGreaterThanOrEqual(290);
        expect(elapsed).toBeLessThan(1_000);
        const sent = await attempts();
        expect(sent).toBeGreaterThan(1); // it did try again, on and on, while live
        await sleep(300);
        await expect(attempts()).resolves.toBe(sent);
        await expect(own.get(key)).resolves.toMatchObject({ data: { visits: 1 }, revision: 1 });
        await own.close();
      });

      it('createTable adds the column to a table created before it: old rows load at revision 0 and update on from there', async () => {
        const old = scratch.table();
        await scratch.admin.query(ownersSchemaSql(old));
        const userId = uniqueName('user');
        const before = record({ owner: owner(userId), cookieMaxAge: 5_000 });
        const oldKey = newKey();
        const { owner: signedIn } = before;
        await scratch.admin.query(
          `INSERT INTO "${old}" (key, data, created_at, touched_at, expires_at, cookie_max_age, user_id, user_ip, user_agent, owner_ends_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [oldKey, JSON.stringify(before.data), before.createdAt, before.touchedAt, before.expiresAt, before.cookieMaxAge,
            signedIn!.userId, signedIn!.ip, signedIn!.userAgent, signedIn!.endsBy],
        );
        const upgraded = new PostgresStore({ pool, tableName: old, cleanupInterval: false });
        await Promise.all([upgraded.createTable(), upgraded.createTable(), upgraded.createTable()]); // instances booting at once
        const column = await scratch.admin.query(
          `SELECT data_type, is_nullable, column_default FROM information_schema.columns WHERE table_name = $1 AND column_name = 'revision'`,
          [old],
        );
        expect(column.rows).toEqual([{ data_type: 'bigint', is_nullable: 'NO', column_default: '0' }]);

        await expect(upgraded.get(oldKey)).resolves.toEqual({ ...before, revision: 0 });
        await expect(upgraded.listByUser(userId)).resolves.toEqual([{ key: oldKey, record: { ...before, revision: 0 } }]);
        await expect(upgraded.update(oldKey, patch({ set: { more: true }, revision: 0 }))).resolves.toBe(true);
        await expect(upgraded.get(oldKey)).resolves.toMatchObject({ data: { ...before.data, more: true }, revision: 1 });
        await expect(upgraded.update(oldKey, patch({ set: { again: true }, revision: 1 }))).resolves.toBe(true);
        await expect(revisionColumn(oldKey, old)).resolves.toBe('2');
        await upgraded.close();
      });

      it('renderPostgresSchema, run as a migration on a table created before the column, adds it', async () => {
        const old = await scratch.qualifiedTable();
        await scratch.admin.query(ownersSchemaSql(old));
        const key = newKey();
        await scratch.admin.query(
          `INSERT INTO ${old.split('.').map((part) => `"${part}"`).join('.')} (key, data, created_at, touched_at, expires_at) VALUES ($1, '{}', 1, 1, $2)`,
          [key, Date.now() + 60_000],
        );
        const schema = renderPostgresSchema(old);
        expect(schema).toContain('ADD COLUMN IF NOT EXISTS revision BIGINT NOT NULL DEFAULT 0;');
        await scratch.admin.query(schema);
        await scratch.admin.query(schema); // idempotent
        const onMigrated = new PostgresStore({ pool, tableName: old, cleanupInterval: false });
        await expect(onMigrated.get(key)).resolves.toMatchObject({ revision: 0 });
        await expect(onMigrated.update(key, patch({ set: { a: 1 }, revision: 0 }))).resolves.toBe(true);
        await expect(onMigrated.get(key)).resolves.toMatchObject({ data: { a: 1 }, revision: 1 });
        await onMigrated.close();
      });
    });

    describe('deleteExpired', () => {
      it('deletes only expired rows and says how many', async () => {
        const own = new PostgresStore({ pool, tableName: scratch.table(), cleanupInterval: false });
        await own.createTable();
        const dead = [newKey(), newKey(), newKey()];
        const live = [newKey(), newKey()];
        await Promise.all(dead.map((key) => own.set(key, record(expired()))));
        await Promise.all(live.map((key) => own.set(key, record())));

        await expect(own.deleteExpired()).resolves.toBe(3);
        await expect(scratch.count(own.tableName)).resolves.toBe(2);
        for (const key of live) await expect(own.get(key)).resolves.toBeDefined();
        await expect(own.deleteExpired()).resolves.toBe(0);
        await own.close();
      });

      it('deletes a large backlog in several batches and counts them all', async () => {
        const own = new PostgresStore({ pool, tableName: scratch.table(), cleanupInterval: false });
        await own.createTable();
        const now = Date.now();
        await scratch.admin.query(
          `INSERT INTO "${own.tableName}" (key, data, created_at, touched_at, expires_at)
           SELECT 'k' || n, '{}', $1::bigint, $1::bigint, $1::bigint + CASE WHEN n <= 12001 THEN -1 ELSE 60000 END FROM generate_series(1, 12010) AS n`,
          [now - 5_000],
        );
        await expect(own.deleteExpired()).resolves.toBe(12_001);
        await expect(scratch.count(own.tableName)).resolves.toBe(9);
        await own.close();
      });

      it('uses the clock option to decide what is expired', async () => {
        let now = 1_000_000;
        const own = new PostgresStore({ pool, tableName: scratch.table(), cleanupInterval: false, clock: () => now });
        await own.createTable();
        const key = newKey();
        await own.set(key, { data: {}, createdAt: now, touchedAt: now, expiresAt: now + 1_000 });
        await expect(own.get(key)).resolves.toBeDefined();
        now += 1_000;
        await expect(own.get(key)).resolves.toBeUndefined();
        await expect(own.deleteExpired()).resolves.toBe(1);
        await own.close();
      });
    });

    describe('cleanup timer', () => {
      it('runs deleteExpired every cleanupInterval until close() stops it', async () => {
        const table = scratch.table();
        const own = new PostgresStore({ pool, tableName: table, cleanupInterval: 50 });
        await own.createTable();
        await own.set(newKey(), record(expired()));
        await own.set(newKey(), record());
        await waitUntil(async () => (await scratch.count(table)) === 1);

        await own.set(newKey(), record(expired()));
        await waitUntil(async () => (await scratch.count(table)) === 1);

        await own.close();
        await own.set(newKey(), record(expired())); // operations keep working after close: the pool is not the store's
        await sleep(300);
        await expect(scratch.count(table)).resolves.toBe(2);
      });

      it('reports a failing sweep to onCleanupError as a SessionStoreError and keeps sweeping', async () => {
        const errors: SessionStoreError[] = [];
        const missing = scratch.table(); // never created
        const own = new PostgresStore({ pool, tableName: missing, cleanupInterval: 30, onCleanupError: (error) => errors.push(error) });
        await waitUntil(() => errors.length >= 2);
        await own.close();
        expect(errors[0]).toBeInstanceOf(SessionStoreError);
        expect(errors[0].cause).toMatchObject({ code: '42P01' }); // undefined_table
        const seen = errors.length;
        await sleep(150);
        expect(errors.length).toBe(seen);
      });

      it('defaults to a sweep every 15 minutes, and close() leaves the pool open', async () => {
        expect(DEFAULT_POSTGRES_CLEANUP_INTERVAL).toBe(900_000);
        const own = new PostgresStore({ pool, tableName });
        await own.close();
        await expect(pool.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
        expect(pool.ended).toBe(false);
      });
    });

    describe('failures', () => {
      it('wraps what PostgreSQL refuses in SessionStoreError, keeping the cause', async () => {
        const missing = new PostgresStore({ pool, tableName: scratch.table(), cleanupInterval: false });
        const outcomes = await Promise.allSettled([
          missing.get(newKey()),
          missing.set(newKey(), record()),
          missing.update(newKey(), patch()),
          missing.destroy(newKey()),
          missing.touch(newKey(), record()),
          missing.deleteExpired(),
        ]);
        for (const outcome of outcomes) {
          expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(SessionStoreError) });
          expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'SESSION_STORE_FAILED', cause: { code: '42P01' } });
        }
        await missing.close();
      });

      it('a timestamp PostgreSQL cannot hold is a SessionStoreError, not a crash', async () => {
        await expect(store.set(newKey(), record({ expiresAt: Number.NaN }))).rejects.toThrow(SessionStoreError);
        await expect(store.set(newKey(), record({ cookieMaxAge: 1e30 }))).rejects.toThrow(SessionStoreError);
      });

      it('an update blocked by a row lock rejects after operationTimeout, and the pool keeps working', async () => {
        const key = newKey();
        await store.set(key, record());
        const fast = storeOn({ operationTimeout: 300 });
        const locker = await scratch.admin.connect();
        try {
          await locker.query('BEGIN');
          await locker.query(`SELECT 1 FROM "${tableName}" WHERE key = $1 FOR UPDATE`, [key]);
          const { error, elapsed } = await settle(() => fast.update(key, patch({ set: { late: true } })));
          expect(error).toBeInstanceOf(SessionStoreError);
          expect((error as Error).message).toMatch(/timed out after 300 ms/);
          expect(elapsed).toBeGreaterThanOrEqual(290);
          expect(elapsed).toBeLessThan(1_500);
        } finally {
          await locker.query('ROLLBACK');
          locker.release();
        }
        await expect(fast.get(key)).resolves.toBeDefined();
        await fast.close();
      });

      it('an operation that timed out waiting for a pool connection is never run later', async () => {
        const small = newPool({ max: 1 });
        const own = new PostgresStore({ pool: small, tableName, operationTimeout: 200, cleanupInterval: false });
        const held = await small.connect();
        const key = newKey();
        try {
          const { error, elapsed } = await settle(() => own.set(key, record()));
          expect(error).toBeInstanceOf(SessionStoreError);
          expect((error as Error).message).toMatch(/set timed out after 200 ms/);
          expect(elapsed).toBeLessThan(1_000);
        } finally {
          held.release();
        }
        await sleep(100); // the abandoned set gets the connection now, and must hand it back unused
        await expect(own.get(key)).resolves.toBeUndefined();
        await expect(scratch.count(tableName, `key = '${key}'`)).resolves.toBe(0);
        await own.close();
        await small.end();
      });
    });
  });

  describe('options', () => {
    const pool = new Pool(PG_CONFIG); // never connects: construction does no I/O

    afterAll(async () => {
      await pool.end();
    });

    it.each([
      'sessions; DROP TABLE users',
      'sessions"; DROP TABLE users; --',
      "sessions'--",
      'sessions"',
      'a.b.c',
      '.sessions',
      'sessions.',
      '1sessions',
      'sess ions',
      'sessions$',
      'séssions',
      '',
      's'.repeat(49),
      `${'s'.repeat(64)}.sessions`,
    ])('refuses the table name %j at construction', (tableName) => {
      expect(() => new PostgresStore({ pool, tableName })).toThrow(SessionConfigError);
      expect(() => renderPostgresSchema(tableName)).toThrow(SessionConfigError);
    });

    it('says how long the table part may be: 63 bytes less the longest index suffix', () => {
      expect(() => renderPostgresSchema('s'.repeat(49))).toThrow(/the table at most 48 characters/);
    });

    it.each(['sessions', 'Sessions', '_s1', 'auth.sessions', 's'.repeat(48), `${'s'.repeat(63)}.t`])('accepts the table name %j', (tableName) => {
      const store = new PostgresStore({ pool, tableName, cleanupInterval: false });
      expect(store.tableName).toBe(tableName);
    });

    it('quotes the table name in the schema SQL', () => {
      expect(renderPostgresSchema('auth.Sessions')).toContain('CREATE TABLE IF NOT EXISTS "auth"."Sessions" (');
      expect(renderPostgresSchema('auth.Sessions')).toContain('CREATE INDEX IF NOT EXISTS "Sessions_expires_at_idx" ON "auth"."Sessions" (expires_at);');
      expect(renderPostgresSchema('auth.Sessions')).toContain(
        'CREATE INDEX IF NOT EXISTS "Sessions_user_id_idx" ON "auth"."Sessions" (user_id, created_at) WHERE user_id IS NOT NULL;',
      );
      expect(renderPostgresSchema('auth.Sessions')).toContain('ALTER TABLE "auth"."Sessions"\n  ADD COLUMN IF NOT EXISTS user_id TEXT,');
    });

    it('lists every invalid option in one SessionConfigError', () => {
      const attempt = () =>
        new PostgresStore({ pool: {} as Pool, tableName: 'x;y', operationTimeout: 0, cleanupInterval: 1.5 });
      expect(attempt).toThrow(SessionConfigError);
      try {
        attempt();
      } catch (error) {
        expect((error as SessionConfigError).problems).toEqual([
          expect.stringMatching(/^PostgresStore pool: /),
          expect.stringMatching(/^PostgresStore tableName: /),
          expect.stringMatching(/^PostgresStore operationTimeout /),
          expect.stringMatching(/^PostgresStore cleanupInterval: /),
        ]);
      }
    });

    it.each<[string, unknown]>([
      ['negative', -1],
      ['zero', 0],
      ['beyond what setTimeout honours', 2 ** 31],
      ['a string', '1000'],
    ])('refuses a cleanupInterval that is %s', (_label, cleanupInterval) => {
      expect(() => new PostgresStore({ pool, cleanupInterval: cleanupInterval as number })).toThrow(/cleanupInterval/);
    });

    it('refuses missing options', () => {
      expect(() => new PostgresStore(undefined as unknown as PostgresStoreOptions)).toThrow(SessionConfigError);
    });
  });
});

describeWithService('postgres')('PostgresStore when a partition heals late (held statements arrive after newer ones)', () => {
  let scratch: Scratch;
  let pool: Pool;
  let schema: string;
  let store: PostgresStore;
  let proxied: ProxiedPostgresStore;

  beforeAll(async () => {
    scratch = new Scratch();
    pool = newPool();
    const tableName = await scratch.qualifiedTable();
    [schema] = tableName.split('.');
    store = new PostgresStore({ pool, tableName, cleanupInterval: false });
    await store.createTable();
    // Every UPDATE that reaches the server, whether it changed a row or not, is logged with the
    // server process that ran it: what shows that a held statement did arrive, and after what.
    const quoted = tableName.split('.').map((part) => `"${part}"`).join('.');
    await scratch.admin.query(`
      CREATE TABLE "${schema}".statement_log (seq BIGSERIAL PRIMARY KEY, pid INT NOT NULL);
      CREATE FUNCTION "${schema}".log_statement() RETURNS trigger LANGUAGE plpgsql
        AS $$BEGIN INSERT INTO "${schema}".statement_log (pid) VALUES (pg_backend_pid()); RETURN NULL; END$$;
      CREATE TRIGGER log_statement AFTER UPDATE ON ${quoted} FOR EACH STATEMENT EXECUTE FUNCTION "${schema}".log_statement();`);
  });

  beforeEach(async () => {
    proxied = await behindProxy(store);
  });

  afterEach(async () => {
    await proxied.close();
  });

  afterAll(async () => {
    await store.close();
    await pool.end();
    await scratch.drop();
  });

  const lastLogged = async (pid?: number): Promise<number> => {
    const result = await scratch.admin.query<{ seq: string | null }>(
      `SELECT max(seq) AS seq FROM "${schema}".statement_log WHERE $1::int IS NULL OR pid = $1::int`,
      [pid ?? null],
    );
    return Number(result.rows[0].seq ?? 0);
  };

  /**
   * Sends `change` through the proxied store during a partition (it times out: the request would
   * answer 503), heals the partition with the held bytes delivered late, runs `meanwhile` on the
   * direct store, and resolves once the held statement has run on the server, after `meanwhile`.
   */
  async function holdBack(key: string, change: SessionPatch, meanwhile: () => Promise<void>): Promise<void> {
    // The proxied pool's one connection, opened before the partition: the update is sent on it.
    const { rows } = await proxied.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const heldPid = rows[0].pid;
    proxied.proxy.freeze();
    const { error, elapsed } = await settle(() => proxied.store.update(key, change));
    expect(error).toBeInstanceOf(SessionStoreError);
    expect(elapsed).toBeLessThan(PROXIED_OPERATION_TIMEOUT + 700);
    proxied.proxy.heal({ heldConnectionsAfterMs: 300 });
    await meanwhile();
    const acknowledged = await lastLogged();
    await proxied.proxy.released();
    await waitUntil(async () => (await lastLogged(heldPid)) > acknowledged);
  }

  it('an update naming its revision, delivered after a newer acknowledged write, reaches the server and changes nothing', async () => {
    const key = newKey();
    await store.set(key, record({ data: { visits: 1 } }));
    const read = await store.get(key);
    await holdBack(key, patch({ set: { visits: 'late' }, revision: read!.revision }), async () => {
      await expect(store.update(key, patch({ set: { visits: 2 }, revision: read!.revision }))).resolves.toBe(true);
    });
    await expect(store.get(key)).resolves.toMatchObject({ data: { visits: 2 }, revision: 2 });
  });

  it('control: the same update without a revision, delivered just as late, overwrites the newer write', async () => {
    const key = newKey();
    await store.set(key, record({ data: { visits: 1 } }));
    await holdBack(key, patch({ set: { visits: 'late' } }), async () => {
      await expect(store.update(key, patch({ set: { visits: 2 } }))).resolves.toBe(true);
    });
    await expect(store.get(key)).resolves.toMatchObject({ data: { visits: 'late' }, revision: 3 });
  });

  it('a touch delivered late never moves the lifetime back', async () => {
    const key = newKey();
    const stored = record();
    await store.set(key, stored);
    const { rows } = await proxied.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    proxied.proxy.freeze();
    const older = { ...stored, touchedAt: stored.touchedAt + 1_000, expiresAt: stored.expiresAt + 1_000 };
    await expect(proxied.store.touch(key, older)).rejects.toBeInstanceOf(SessionStoreError);
    proxied.proxy.heal({ heldConnectionsAfterMs: 300 });
    const newer = { ...stored, touchedAt: stored.touchedAt + 5_000, expiresAt: stored.expiresAt + 5_000 };
    await store.touch(key, newer);
    const acknowledged = await lastLogged();
    await proxied.proxy.released();
    await waitUntil(async () => (await lastLogged(rows[0].pid)) > acknowledged);
    await expect(store.get(key)).resolves.toEqual({ ...stored, touchedAt: newer.touchedAt, expiresAt: newer.expiresAt, revision: 1 });
  });
});

describeWithService('postgres')('PostgresStore when PostgreSQL goes away', () => {
  const OPERATION_TIMEOUT = 500;
  /** How late a rejection may come past the operation timeout (timers, a loaded CI machine). */
  const SLACK = 700;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const poolErrors: unknown[] = [];
  let scratch: Scratch;
  let proxy: TcpProxy;
  let pool: Pool;
  let tableName: string;
  let store: PostgresStore;

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    scratch = new Scratch();
    tableName = scratch.table();
    proxy = await new TcpProxy(PG_PORT).start();
    // The application's pool: a short connect timeout, and an 'error' listener (pg emits 'error'
    // when an idle connection drops; unhandled, it would end the process).
    pool = newPool({ port: proxy.port, connectionTimeoutMillis: 300, max: 5 }, poolErrors);
    store = new PostgresStore({ pool, tableName, operationTimeout: OPERATION_TIMEOUT, cleanupInterval: false });
    await store.createTable();
  });

  afterEach(() => {
    proxy.restore();
  });

  afterAll(async () => {
    await store.close();
    await pool.end();
    await proxy.stop();
    await scratch.drop();
    await sleep(100); // late rejections of abandoned queries would show up by now
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });

  const operations = (key: string): ReadonlyArray<readonly [string, () => Promise<unknown>]> => [
    ['get', () => store.get(key)],
    ['set', () => store.set(key, record())],
    ['update', () => store.update(key, patch({ set: { during: 'outage' } }))],
    ['destroy', () => store.destroy(key)],
    ['touch', () => store.touch(key, record())],
    ['deleteExpired', () => store.deleteExpired()],
    ['createTable', () => store.createTable()],
  ];

  it('every operation rejects with SessionStoreError within the operation timeout while PostgreSQL is unreachable', async () => {
    const key = newKey();
    await store.set(key, record());
    proxy.cut();

    for (const [name, operation] of operations(key)) {
      const { error, elapsed } = await settle(operation);
      expect({ name, error }).toMatchObject({ name, error: expect.any(SessionStoreError) });
      expect((error as SessionStoreError).cause ?? (error as SessionStoreError).message).toBeDefined();
      expect(elapsed).toBeLessThan(OPERATION_TIMEOUT + SLACK);
    }
  });

  it('operations in flight when the connection drops settle (resolve, or reject with SessionStoreError), none hangs', async () => {
    const keys = Array.from({ length: 5 }, () => newKey());
    await Promise.all(keys.map((key) => store.set(key, record())));
    // One update is certainly mid-statement at the cut: it waits for a row lock held elsewhere.
    const locker = await scratch.admin.connect();
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM "${tableName}" WHERE key = $1 FOR UPDATE`, [keys[0]]);
    const blocked = store.update(keys[0], patch({ set: { blocked: true } }));
    await sleep(50);

    const startedAt = Date.now();
    const inFlight = [blocked, ...keys.flatMap((key) => operations(key).map(([, operation]) => operation()))];
    proxy.cut();
    const settled = await Promise.allSettled(inFlight);
    await locker.query('ROLLBACK');
    locker.release();

    expect(Date.now() - startedAt).toBeLessThan(OPERATION_TIMEOUT + SLACK);
    for (const outcome of settled) {
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(SessionStoreError);
    }
    expect(settled[0]).toMatchObject({ status: 'rejected', reason: expect.any(SessionStoreError) });
  });

  it('works again with the same pool and store once PostgreSQL is reachable, with what was stored before', async () => {
    const key = newKey();
    await store.set(key, record({ data: { before: 'outage' } }));
    proxy.cut();
    await expect(store.get(key)).rejects.toThrow(SessionStoreError);
    await expect(store.update(key, patch({ set: { during: 'outage' } }))).rejects.toThrow(SessionStoreError);

    proxy.restore();

    await expect(store.get(key)).resolves.toMatchObject({ data: { before: 'outage' } });
    await expect(store.update(key, patch({ set: { after: 'outage' } }))).resolves.toBe(true);
    await expect(store.get(key)).resolves.toMatchObject({ data: { before: 'outage', after: 'outage' } });
  });

  it('idle connections dropped by the outage reach the pool error listener, not the process', async () => {
    await Promise.all(Array.from({ length: 3 }, () => store.get(newKey()))); // a few idle connections
    expect(pool.idleCount).toBeGreaterThan(0);
    const before = poolErrors.length;
    proxy.cut();
    await waitUntil(() => poolErrors.length > before);
    expect(poolErrors.at(-1)).toBeInstanceOf(Error);
    proxy.restore();
    await expect(store.get(newKey())).resolves.toBeUndefined();
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import connectPgSimple from 'connect-pg-simple';
import { createConnection } from 'mysql2/promise';
import { Pool } from 'pg';
import { createClient, type RedisClientType } from 'redis';
import { ExpressSessionStore, expressSessionShim, type ExpressSessionCompatibleStore } from '@app/session';
import type { Service } from './services';
import { uniqueName } from './services';

/*
 * The express-session stores the suites run ExpressSessionStore over, each against its real
 * server under names unique to the run: how to open one, and how to remove what it created.
 */

const load = createRequire(__filename);
type StoreFactory = (session: unknown) => new (options: object) => ExpressSessionCompatibleStore;

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };
const quiet = (): void => undefined;

/** An opened store: the adapter, and what removes the keys, tables or files it made and closes its clients. */
export interface OpenedForeignStore {
  readonly store: ExpressSessionStore;
  cleanup(): Promise<void>;
}

/** One express-session store under test. */
export interface ForeignStoreSubject {
  readonly name: string;
  /** The server it needs, if any (the suite is skipped with a reason when it is down). */
  readonly service?: Service;
  /** In this process (memory, files): writes cannot be held back by a network. */
  readonly inProcess: boolean;
  open(): Promise<OpenedForeignStore>;
}

export const FOREIGN_STORES: readonly ForeignStoreSubject[] = [
  {
    name: 'memorystore',
    inProcess: true,
    open: () => {
      const MemoryStore = (load('memorystore') as StoreFactory)(expressSessionShim);
      const inner = new MemoryStore({ checkPeriod: 60_000 }) as ExpressSessionCompatibleStore & { stopInterval(): void };
      const store = new ExpressSessionStore(inner);
      return Promise.resolve({ store, cleanup: async () => { await store.close(); inner.stopInterval(); } });
    },
  },
  {
    name: 'session-file-store (a temporary directory)',
    inProcess: true,
    open: async () => {
      const directory = await mkdtemp(join(tmpdir(), 'nsa-file-store-'));
      const FileStore = (load('session-file-store') as StoreFactory)(expressSessionShim);
      // retries: 0: a missing session is an ENOENT the store would otherwise retry five times.
      const store = new ExpressSessionStore(new FileStore({ path: directory, retries: 0, reapInterval: -1, logFn: quiet }));
      return { store, cleanup: async () => { await store.close(); await rm(directory, { recursive: true, force: true }); } };
    },
  },
  {
    name: 'connect-redis (Redis)',
    service: 'redis',
    inProcess: false,
    open: async () => {
      const prefix = `${uniqueName('es_redis')}:`;
      const client = createClient({ url: REDIS_URL }) as RedisClientType;
      await client.connect();
      const store = new ExpressSessionStore(new ConnectRedisStore({ client, prefix }));
      return {
        store,
        cleanup: async () => {
          await store.close();
          const keys: string[] = [];
          for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) keys.push(...batch);
          if (keys.length > 0) await client.del(keys);
          await client.close();
        },
      };
    },
  },
  {
    name: 'connect-pg-simple (PostgreSQL)',
    service: 'postgres',
    inProcess: false,
    open: () => {
      const table = uniqueName('es_pg');
      const pool = new Pool({ connectionString: PG_URL, max: 4 });
      const PgStore = connectPgSimple(expressSessionShim as never);
      const inner = new PgStore({ pool, tableName: table, createTableIfMissing: true, pruneSessionInterval: false, errorLog: quiet });
      // closeStore: false: the pool is the test's (connect-pg-simple would not end it anyway).
      const store = new ExpressSessionStore(inner, { closeStore: false });
      return Promise.resolve({
        store,
        cleanup: async () => {
          await store.close();
          await pool.query(`DROP TABLE IF EXISTS "${table}"`);
          await pool.end();
        },
      });
    },
  },
  {
    name: 'express-mysql-session (MariaDB)',
    service: 'mysql',
    inProcess: false,
    open: async () => {
      const table = uniqueName('es_mysql');
      const MySqlStore = (load('express-mysql-session') as StoreFactory)(expressSessionShim);
      const inner = new MySqlStore({ ...MYSQL, createDatabaseTable: true, clearExpired: false, schema: { tableName: table } }) as ExpressSessionCompatibleStore & {
        onReady(): Promise<void>;
      };
      await inner.onReady();
      // Its close() ends the connections it opened.
      const store = new ExpressSessionStore(inner);
      return {
        store,
        cleanup: async () => {
          await store.close();
          const connection = await createConnection(MYSQL);
          await connection.query(`DROP TABLE IF EXISTS \`${table}\``);
          await connection.end();
        },
      };
    },
  },
  {
    name: 'connect-session-knex (PostgreSQL through Knex)',
    service: 'postgres',
    inProcess: false,
    open: async () => {
      const table = uniqueName('es_knex');
      const createKnex = load('knex') as (config: object) => { destroy(): Promise<void>; schema: { dropTableIfExists(name: string): Promise<unknown> } };
      const knex = createKnex({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 4 } });
      const { ConnectSessionKnexStore } = load('connect-session-knex') as {
        ConnectSessionKnexStore: new (options: object) => ExpressSessionCompatibleStore & { ready: Promise<unknown> };
      };
      const inner = new ConnectSessionKnexStore({ knex, tableName: table, createTable: true, cleanupInterval: 0 });
      await inner.ready;
      const store = new ExpressSessionStore(inner);
      return {
        store,
        cleanup: async () => {
          await store.close();
          await knex.schema.dropTableIfExists(table);
          await knex.destroy();
        },
      };
    },
  },
  {
    name: 'connect-memcached (memcached)',
    service: 'memcached',
    inProcess: false,
    open: () => {
      const prefix = `${uniqueName('es_mc')}:`;
      const MemcachedStore = (load('connect-memcached') as StoreFactory)(expressSessionShim);
      const inner = new MemcachedStore({ hosts: ['127.0.0.1:11211'], prefix }) as ExpressSessionCompatibleStore & { client: { end(): void } };
      const store = new ExpressSessionStore(inner, { closeStore: false });
      return Promise.resolve({ store, cleanup: async () => { await store.close(); inner.client.end(); } });
    },
  },
];

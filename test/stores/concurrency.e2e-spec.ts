import { Controller, Get, HttpCode, Param, Post, Query, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import memjs from 'memjs';
import { createPool } from 'mysql2/promise';
import { Pool } from 'pg';
import { createClient } from 'redis';
import request, { type Response } from 'supertest';
import { MemcachedStore, MemoryStore, MysqlStore, PostgresStore, RedisStore, Session, SessionModule, type SessionStore } from '@app/session';
import { createUninitialisedApp } from '../support/http-platform';
import { describeWithService, uniqueName } from '../support/services';
import { sessionCookieFrom, setCookieFor, sleep, SpyStore, storeKeyOf, TEST_SECRET } from '../support/test-stores';

// Races on one session, for every store: parallel writes of different keys must all survive, and
// a logout must stay final even when a slower request of the same session commits after it.

const PARALLEL_WRITES = 100;
/** How long the slow route waits before it writes the session. */
const SLOW_WRITE_MS = 200;

type RaceSession = Session<Record<string, unknown>>;

/** Called when a slow request has loaded its session and starts waiting. */
let onSlowWriteStarted: (() => void) | undefined;

@Controller()
class RaceController {
  @Post('login')
  @HttpCode(200)
  async login(@Session() session: RaceSession): Promise<{ ok: true }> {
    await session.login({ id: 'racer' });
    return { ok: true };
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@Session() session: RaceSession): Promise<void> {
    await session.logout();
  }

  @Post('set/:key')
  @HttpCode(200)
  set(@Session() session: RaceSession, @Param('key') key: string, @Query('value') value: string): { ok: true } {
    session[key] = value;
    return { ok: true };
  }

  @Post('slow/:key')
  @HttpCode(200)
  async slow(@Session() session: RaceSession, @Param('key') key: string): Promise<{ ok: true }> {
    onSlowWriteStarted?.();
    await sleep(SLOW_WRITE_MS);
    session[key] = 'written after the wait';
    return { ok: true };
  }

  @Get('session')
  read(@Session() session: RaceSession): { data: Record<string, unknown> } {
    return { data: { ...session } };
  }
}

/** A store opened for one suite, and how to remove everything it wrote. */
interface OpenedStore {
  readonly store: SessionStore;
  /** Runs after the app (and with it the store) closed. */
  readonly cleanup: () => Promise<void>;
}

interface StoreVariant {
  readonly name: string;
  readonly describe: jest.Describe;
  readonly open: () => Promise<OpenedStore>;
}

const variants: StoreVariant[] = [
  {
    name: 'MemoryStore',
    describe,
    open: () => Promise.resolve({ store: new MemoryStore(), cleanup: () => Promise.resolve() }),
  },
  {
    name: 'RedisStore',
    describe: describeWithService('redis'),
    open: async () => {
      const client = createClient({ url: 'redis://127.0.0.1:6379' });
      client.on('error', () => undefined);
      await client.connect();
      const prefix = `${uniqueName('race')}:`;
      return {
        store: new RedisStore({ client, prefix }),
        cleanup: async () => {
          for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
            if (keys.length > 0) await client.del(keys);
          }
          await client.close();
        },
      };
    },
  },
  {
    name: 'PostgresStore',
    describe: describeWithService('postgres'),
    open: async () => {
      const pool = new Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
      pool.on('error', () => undefined);
      const tableName = uniqueName('race');
      const store = new PostgresStore({ pool, tableName, cleanupInterval: false });
      await store.createTable();
      return {
        store,
        cleanup: async () => {
          await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
          await pool.end();
        },
      };
    },
  },
  {
    name: 'MysqlStore',
    describe: describeWithService('mysql'),
    open: async () => {
      const pool = createPool({ host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test', connectionLimit: 10 });
      const tableName = uniqueName('race');
      const store = new MysqlStore({ pool, tableName });
      await store.createTable();
      return {
        store,
        cleanup: async () => {
          await pool.query(`DROP TABLE IF EXISTS \`${tableName}\``);
          await pool.end();
        },
      };
    },
  },
  {
    name: 'MemcachedStore',
    describe: describeWithService('memcached'),
    open: () => {
      const client = memjs.Client.create('127.0.0.1:11211', { timeout: 0.5, retries: 2, logger: { log: () => undefined } });
      const store = new MemcachedStore({ client, prefix: `${uniqueName('race')}:` });
      return Promise.resolve({ store, cleanup: () => Promise.resolve(client.close()) });
    },
  },
];

for (const variant of variants) {
  variant.describe(`Racing requests on one session, with the ${variant.name}`, () => {
    let app: INestApplication;
    let spy: SpyStore;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      const opened = await variant.open();
      cleanup = opened.cleanup;
      // Records every key written, so memcached (which cannot list keys) can be cleaned up too.
      spy = new SpyStore(opened.store);
      const moduleRef = await Test.createTestingModule({
        imports: [SessionModule.forRoot({ secret: TEST_SECRET, store: spy })],
        controllers: [RaceController],
      }).compile();
      app = createUninitialisedApp(moduleRef, { logger: false });
      await app.listen(0, '127.0.0.1');
    });

    afterAll(async () => {
      const keys = new Set(spy?.calls.map((call) => call.key));
      await app?.close();
      for (const key of keys) await spy.inner.destroy(key);
      await cleanup?.();
    });

    const logIn = async (): Promise<string> => {
      const response = await request(app.getHttpServer()).post('/login');
      expect(response.status).toBe(200);
      return sessionCookieFrom(response);
    };

    const readSession = async (cookie: string): Promise<Record<string, unknown>> => {
      const response = await request(app.getHttpServer()).get('/session').set('Cookie', cookie);
      expect(response.status).toBe(200);
      return (response.body as { data: Record<string, unknown> }).data;
    };

    it(`keeps every key of ${PARALLEL_WRITES} parallel requests that each set a different key`, async () => {
      const cookie = await logIn();
      const keys = Array.from({ length: PARALLEL_WRITES }, (_, index) => `key${index}`);
      const writes = await Promise.all(
        keys.map((key) => request(app.getHttpServer()).post(`/set/${key}`).query({ value: `value of ${key}` }).set('Cookie', cookie)),
      );
      expect(writes.map((response) => response.status)).toEqual(keys.map(() => 200));

      const data = await readSession(cookie);
      const lost = keys.filter((key) => data[key] !== `value of ${key}`);
      expect(lost).toEqual([]);
      expect(data.user).toEqual({ id: 'racer' });
    });

    it('keeps a session logged out when a slower request of it writes after the logout', async () => {
      const cookie = await logIn();
      const started = new Promise<void>((resolve) => {
        onSlowWriteStarted = resolve;
      });
      const slowWrite: Promise<Response> = request(app.getHttpServer()).post('/slow/late').set('Cookie', cookie).then((response) => response);
      await started;
      onSlowWriteStarted = undefined;

      const logout = await request(app.getHttpServer()).post('/logout').set('Cookie', cookie);
      expect(logout.status).toBe(204);
      expect(await spy.inner.get(storeKeyOf(cookie))).toBeUndefined();

      const slow = await slowWrite;
      expect(slow.status).toBeLessThan(500);
      // The slow request must not bring the session back, nor hand out a signed-in replacement.
      expect(await spy.inner.get(storeKeyOf(cookie))).toBeUndefined();
      expect(await readSession(cookie)).toEqual({});
      const reissued = setCookieFor(slow);
      if (reissued !== undefined && !/;\s*Max-Age=0/i.test(reissued)) {
        const replacement = reissued.split(';')[0];
        expect(await readSession(replacement)).not.toHaveProperty('user');
        expect(await spy.inner.get(storeKeyOf(replacement))).not.toMatchObject({ data: { user: expect.anything() } });
      }
    });
  });
}

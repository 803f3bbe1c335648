import { Controller, Get, HttpCode, Param, ParseIntPipe, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createPool as createMysqlPool } from 'mysql2/promise';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Pool as PgPool } from 'pg';
import { createClient } from 'redis';
import { MysqlStore, PostgresStore, RedisStore, Session, SessionModule, type SessionStore } from '@app/session';
import { createUninitialisedApp } from '../support/http-platform';
import { describeWithService, uniqueName, type Service } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { sleep, TEST_SECRET } from '../support/test-stores';

/**
 * A store outage in the middle of sustained concurrent traffic: the server behind the store is cut
 * off after about a third of the requests and comes back after about two thirds. Every request must
 * get an answer (200 or the library's 503, never a 500), the app must recover by itself, and no
 * write the client was told succeeded (200) may be missing afterwards.
 */

const OPERATION_TIMEOUT = 300;
const SESSIONS = 20;
const REQUESTS = 400;
const CONCURRENCY = 16;
const CUT_AT = Math.floor(REQUESTS / 3);
const RESTORE_AT = Math.floor((2 * REQUESTS) / 3);
/** No single request may take longer than this (it would mean a hang, not an answer). */
const REQUEST_DEADLINE_MS = 5_000;
/** The whole load phase must finish within this. */
const LOAD_DEADLINE_MS = 40_000;
/** After restore, a request must succeed within this. */
const RECOVERY_MS = 1_000;
const POLL_MS = 50;
/** Keys of the writes made while preparing the sessions (also acknowledged, also checked). */
const PREP_BASE = 100_000;

@Controller()
class CounterController {
  @Post('counter/:n')
  @HttpCode(200)
  count(@Session() session: Session, @Param('n', ParseIntPipe) n: number): { ok: true } {
    (session as unknown as Record<string, unknown>)[`k${n}`] = n;
    return { ok: true };
  }

  @Get('all')
  all(@Session() session: Session): Record<string, unknown> {
    // The session's data: its own enumerable properties.
    return Object.fromEntries(Object.entries(session));
  }
}

interface Outcome {
  readonly n: number;
  readonly cookie: string;
  status: number | 'no answer';
  body: unknown;
  contentType: string | null;
  setCookie: string[];
  error?: unknown;
}

interface StoreFixture {
  readonly proxy: TcpProxy;
  readonly store: SessionStore;
  /** Drops the test's tables/keys and closes the clients (after the app closed). */
  readonly cleanup: () => Promise<void>;
}

function cookiePairOf(setCookie: string[]): string | undefined {
  const header = setCookie.find((value) => value.startsWith('sid='));
  return header?.split(';')[0];
}

async function send(base: string, method: 'GET' | 'POST', path: string, cookie?: string): Promise<Omit<Outcome, 'n' | 'cookie'>> {
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: cookie ? { cookie } : {},
      signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text, the assertions will show it
    }
    return { status: response.status, body, contentType: response.headers.get('content-type'), setCookie: response.headers.getSetCookie() };
  } catch (error) {
    return { status: 'no answer', body: undefined, contentType: null, setCookie: [], error };
  }
}

function outageUnderLoadSuite(service: Service, title: string, build: () => Promise<StoreFixture>): void {
  describeWithService(service)(title, () => {
    let fixture: StoreFixture;
    let app: INestApplication;
    let base: string;

    beforeAll(async () => {
      fixture = await build();
      const moduleRef = await Test.createTestingModule({
        imports: [SessionModule.forRoot({ secret: TEST_SECRET, store: fixture.store })],
        controllers: [CounterController],
      }).compile();
      app = createUninitialisedApp(moduleRef, { logger: false });
      await app.listen(0, '127.0.0.1');
      const address = app.getHttpServer().address() as AddressInfo;
      base = `http://127.0.0.1:${address.port}`;
    });

    afterAll(async () => {
      fixture?.proxy.restore();
      await app?.close();
      await fixture?.cleanup();
    });

    it('answers every request with 200 or 503 across a cut and restore, recovers by itself, and loses no acknowledged write', async () => {
      const startedAt = performance.now();

      // 1. Twenty sessions, each created by an acknowledged write.
      const cookies: string[] = [];
      const acknowledged: { n: number; cookie: string }[] = [];
      for (let index = 0; index < SESSIONS; index += 1) {
        const n = PREP_BASE + index;
        const created = await send(base, 'POST', `/counter/${n}`);
        expect(created.status).toBe(200);
        const cookie = cookiePairOf(created.setCookie);
        expect(cookie).toBeDefined();
        cookies.push(cookie!);
        acknowledged.push({ n, cookie: cookie! });
      }

      // 2. The load: distinct n, spread over the cookies; cut after a third, restore after two thirds.
      const outcomes: Outcome[] = [];
      let next = 0;
      let restoredAt: number | undefined;
      let recovery: Promise<number | undefined> | undefined;
      const pollRecovery = async (): Promise<number | undefined> => {
        const from = performance.now();
        while (performance.now() - from < RECOVERY_MS) {
          const attempt = await send(base, 'GET', '/all', cookies[0]);
          if (attempt.status === 200) return performance.now() - from;
          await sleep(POLL_MS);
        }
        return undefined;
      };
      const worker = async (): Promise<void> => {
        while (next < REQUESTS) {
          const index = next;
          next += 1;
          if (index === CUT_AT) fixture.proxy.cut();
          if (index === RESTORE_AT) {
            fixture.proxy.restore();
            restoredAt = performance.now();
            recovery = pollRecovery();
          }
          const cookie = cookies[index % SESSIONS];
          const result = await send(base, 'POST', `/counter/${index}`, cookie);
          outcomes.push({ n: index, cookie, ...result });
        }
      };
      let deadlineTimer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((resolve) => {
        deadlineTimer = setTimeout(() => resolve('deadline'), LOAD_DEADLINE_MS);
      });
      const finished = await Promise.race([Promise.all(Array.from({ length: CONCURRENCY }, worker)).then(() => 'done' as const), deadline]);
      clearTimeout(deadlineTimer);
      next = REQUESTS; // stop the workers if the deadline won
      expect(finished).toBe('done');
      const loadMs = performance.now() - startedAt;

      // 3. Every request got an answer, and only 200 or the library's 503.
      expect(outcomes).toHaveLength(REQUESTS);
      const unanswered = outcomes.filter((outcome) => outcome.status === 'no answer');
      expect(unanswered.map((outcome) => ({ n: outcome.n, error: String(outcome.error) }))).toEqual([]);
      const unexpected = outcomes.filter((outcome) => outcome.status !== 200 && outcome.status !== 503);
      expect(unexpected.map(({ n, status, body }) => ({ n, status, body }))).toEqual([]);
      const ok = outcomes.filter((outcome) => outcome.status === 200);
      const unavailable = outcomes.filter((outcome) => outcome.status === 503);
      for (const outcome of ok) expect(outcome.body).toEqual({ ok: true });
      for (const outcome of unavailable) {
        expect(outcome.contentType).toMatch(/^application\/json/);
        expect(outcome.body).toMatchObject({ statusCode: 503, message: expect.stringMatching(/^Session store unavailable/) });
        expect(cookiePairOf(outcome.setCookie)).toBeUndefined();
      }
      // The outage was felt (the cut really happened during the load).
      expect(unavailable.length).toBeGreaterThan(0);

      // 4. It recovered by itself: a request succeeded within a second of the restore.
      expect(restoredAt).toBeDefined();
      const recoveredAfter = await recovery;
      expect(recoveredAfter).toBeDefined();
      expect(recoveredAfter!).toBeLessThan(RECOVERY_MS);

      // 5. No acknowledged write is lost.
      acknowledged.push(...ok.map(({ n, cookie }) => ({ n, cookie })));
      const sessionData = new Map<string, Record<string, unknown>>();
      for (const cookie of cookies) {
        const read = await send(base, 'GET', '/all', cookie);
        expect(read.status).toBe(200);
        sessionData.set(cookie, read.body as Record<string, unknown>);
      }
      const lost = acknowledged.filter(({ n, cookie }) => sessionData.get(cookie)?.[`k${n}`] !== n);
      expect(lost.map(({ n, cookie }) => ({ n, session: cookies.indexOf(cookie) }))).toEqual([]);

      console.log(
        `[outage-under-load] ${service}: ${REQUESTS} requests, ${ok.length} x 200, ${unavailable.length} x 503, ` +
          `recovered ${Math.round(recoveredAfter!)} ms after restore, ${Math.round(loadMs)} ms total`,
      );
    }, 90_000);
  });
}

outageUnderLoadSuite('redis', 'RedisStore: an outage in the middle of concurrent load', async () => {
  const prefix = `${uniqueName('load')}:`;
  const admin = createClient({ url: 'redis://127.0.0.1:6379' });
  admin.on('error', () => undefined);
  await admin.connect();
  const proxy = await new TcpProxy(6379).start();
  const client = createClient({ socket: { host: '127.0.0.1', port: proxy.port, reconnectStrategy: () => 50, connectTimeout: 1_000 } });
  client.on('error', () => undefined);
  await client.connect();
  return {
    proxy,
    store: new RedisStore({ client, prefix, operationTimeout: OPERATION_TIMEOUT }),
    cleanup: async () => {
      await client.close();
      await proxy.stop();
      for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
        if (keys.length > 0) await admin.del(keys);
      }
      await admin.close();
    },
  };
});

outageUnderLoadSuite('postgres', 'PostgresStore: an outage in the middle of concurrent load', async () => {
  const tableName = uniqueName('load_sessions');
  const admin = new PgPool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
  const proxy = await new TcpProxy(5432).start();
  const pool = new PgPool({ host: '127.0.0.1', port: proxy.port, user: 'postgres', database: 'test', connectionTimeoutMillis: 300 });
  pool.on('error', () => undefined); // idle connections dropped by the cut
  const store = new PostgresStore({ pool, tableName, operationTimeout: OPERATION_TIMEOUT, cleanupInterval: false });
  await store.createTable();
  return {
    proxy,
    store,
    cleanup: async () => {
      await pool.end();
      await proxy.stop();
      await admin.query(`DROP TABLE IF EXISTS "${tableName}"`);
      await admin.end();
    },
  };
});

outageUnderLoadSuite('mysql', 'MysqlStore: an outage in the middle of concurrent load', async () => {
  const tableName = uniqueName('load_sessions');
  const admin = createMysqlPool({ host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test', connectionLimit: 1 });
  const proxy = await new TcpProxy(3306).start();
  const pool = createMysqlPool({
    host: '127.0.0.1',
    port: proxy.port,
    user: 'root',
    password: '',
    database: 'test',
    connectionLimit: 4,
    connectTimeout: 1_000,
  });
  const store = new MysqlStore({ pool, tableName, operationTimeout: OPERATION_TIMEOUT });
  await store.createTable();
  return {
    proxy,
    store,
    cleanup: async () => {
      await pool.end();
      await proxy.stop();
      await admin.query(`DROP TABLE IF EXISTS \`${tableName}\``);
      await admin.end();
    },
  };
});

import type { INestApplication } from '@nestjs/common';
import { createPool as createMysqlPool } from 'mysql2/promise';
import { performance } from 'node:perf_hooks';
import { Pool as PgPool } from 'pg';
import { MysqlStore, PostgresStore } from '@app/session';
import type { ExampleStore } from '../../apps/example/src/store/example-store';
import { isStoreUnavailable, send, sessionCookieIn, startExampleOn } from '../support/example-on-store';
import { describeWithService, uniqueName, type Service } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { sleep } from '../support/test-stores';

/**
 * How fast the SQL stores come back after an outage, under load: the example app on PostgreSQL or
 * MariaDB through a TcpProxy of the test's own, ten clients incrementing their counters, and four
 * outages in a row, alternately refused (cut, then restore) and partitioned (freeze, then heal
 * with the connections frozen meanwhile released 1.5 s later). After each, a write must succeed
 * within a second of the store being reachable again, however many connections the outage left
 * stuck in the pool.
 *
 * The pools are those of `openExampleStore` with the timeouts scaled to the operation timeout
 * (the example has 2 s for both): pg `connectionTimeoutMillis` and mysql2 `connectTimeout` equal to
 * it, so a connection attempt into a partition gives its pool slot back when the operation gives up.
 */

const OPERATION_TIMEOUT = 400;
const CLIENTS = 10;
const LEAD_IN_MS = 500;
/** Connection refused: the server is gone (a restart, a failover). */
const CUT_MS = 1_500;
/** A partition, well past the operation timeout. */
const FREEZE_MS = 2_000;
/** How long after the heal the connections open during the partition deliver what they held. */
const HELD_CONNECTIONS_AFTER_MS = 1_500;
/** Load after each outage ended (after the held connections were released, for a partition). */
const AFTER_MS = 800;
const OUTAGES: readonly ('cut' | 'freeze')[] = ['cut', 'freeze', 'cut', 'freeze'];
const MAX_REQUESTS_PER_CLIENT = 2_000;
const RECOVERY_MS = 1_000;

interface Fixture {
  readonly proxy: TcpProxy;
  readonly opened: ExampleStore;
  readonly cleanup: () => Promise<void>;
}

interface Outcome {
  readonly ok: boolean;
  readonly unavailable: boolean;
  readonly status: number | 'no answer';
  readonly finishedAt: number;
}

const VARIANTS: readonly { service: Service; title: string; mode: 'postgres' | 'mysql'; open: () => Promise<Fixture> }[] = [
  {
    service: 'postgres',
    title: 'PostgresStore',
    mode: 'postgres',
    open: async () => {
      const tableName = uniqueName('recovery');
      const proxy = await new TcpProxy(5432).start();
      const pool = new PgPool({ host: '127.0.0.1', port: proxy.port, user: 'postgres', database: 'test', connectionTimeoutMillis: OPERATION_TIMEOUT, max: 10 });
      pool.on('error', () => undefined); // idle connections dropped by a cut
      const store = new PostgresStore({ pool, tableName, operationTimeout: OPERATION_TIMEOUT, cleanupInterval: false });
      await store.createTable();
      const admin = new PgPool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 1 });
      return {
        proxy,
        opened: { store, close: () => pool.end() },
        cleanup: async () => {
          await proxy.stop();
          await admin.query(`DROP TABLE IF EXISTS "${tableName}"`);
          await admin.end();
        },
      };
    },
  },
  {
    service: 'mysql',
    title: 'MysqlStore (MariaDB)',
    mode: 'mysql',
    open: async () => {
      const tableName = uniqueName('recovery');
      const proxy = await new TcpProxy(3306).start();
      const pool = createMysqlPool({ host: '127.0.0.1', port: proxy.port, user: 'root', password: '', database: 'test', connectionLimit: 10, connectTimeout: OPERATION_TIMEOUT });
      const store = new MysqlStore({ pool, tableName, operationTimeout: OPERATION_TIMEOUT, cleanupInterval: false });
      await store.createTable();
      const admin = createMysqlPool({ host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test', connectionLimit: 1 });
      return {
        proxy,
        opened: { store, close: () => pool.end() },
        cleanup: async () => {
          await proxy.stop();
          await admin.query(`DROP TABLE IF EXISTS \`${tableName}\``);
          await admin.end();
        },
      };
    },
  },
];

describe.each(VARIANTS)('Recovery after repeated outages under load: $title', ({ service, title, mode, open }) => {
  describeWithService(service)(mode, () => {
    let fixture: Fixture;
    let app: INestApplication;
    let base: string;

    beforeAll(async () => {
      fixture = await open();
      ({ app, base } = await startExampleOn(mode, fixture.opened));
    });

    afterAll(async () => {
      fixture?.proxy.heal();
      fixture?.proxy.restore();
      await app?.close();
      await fixture?.cleanup();
    });

    it('writes again within a second of every restore and every heal', async () => {
      // Ten sessions, each created by its first increment.
      const cookies = await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          const created = await send(base, 'POST', '/visits');
          expect(created.status).toBe(200);
          return sessionCookieIn(created.setCookie)!;
        }),
      );

      const outcomes: Outcome[] = [];
      const backAt: number[] = [];
      let stopped = false;
      const outages = async (): Promise<void> => {
        try {
          await sleep(LEAD_IN_MS);
          for (const kind of OUTAGES) {
            if (kind === 'cut') {
              fixture.proxy.cut();
              await sleep(CUT_MS);
              fixture.proxy.restore();
              backAt.push(performance.now());
            } else {
              fixture.proxy.freeze();
              await sleep(FREEZE_MS);
              fixture.proxy.heal({ heldConnectionsAfterMs: HELD_CONNECTIONS_AFTER_MS });
              backAt.push(performance.now());
              await fixture.proxy.released();
            }
            await sleep(AFTER_MS);
          }
        } finally {
          stopped = true;
        }
      };
      const client = async (cookie: string): Promise<void> => {
        for (let request = 0; request < MAX_REQUESTS_PER_CLIENT && !stopped; request++) {
          const answer = await send(base, 'POST', '/visits', { cookie });
          const outcome = { ok: answer.status === 200, unavailable: isStoreUnavailable(answer), status: answer.status, finishedAt: performance.now() };
          outcomes.push(outcome);
          if (!outcome.ok) await sleep(10); // a refused connection fails at once: do not spin
        }
      };
      await Promise.all([outages(), ...cookies.map(client)]);

      const recoveries = backAt.map((at) => {
        const first = outcomes.filter((outcome) => outcome.ok && outcome.finishedAt > at).sort((a, b) => a.finishedAt - b.finishedAt)[0];
        return first === undefined ? Infinity : Math.round(first.finishedAt - at);
      });
      const unexpected = outcomes.filter((outcome) => !outcome.ok && !outcome.unavailable).map((outcome) => outcome.status);
      console.log(
        `[store-recovery] ${title}: ${outcomes.length} requests, ${outcomes.filter((outcome) => outcome.unavailable).length} x 503; ` +
          `first write after ${OUTAGES.map((kind, index) => `${kind} ${recoveries[index]} ms`).join(', ')}`,
      );
      expect({
        unexpected,
        slowRecoveries: recoveries.flatMap((ms, index) => (ms < RECOVERY_MS ? [] : [{ outage: index, kind: OUTAGES[index], ms }])),
      }).toEqual({ unexpected: [], slowRecoveries: [] });
    }, 40_000);
  });
});

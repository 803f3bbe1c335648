import { Controller, Get, HttpCode, Post, Query, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createPool, type Pool } from 'mysql2/promise';
import { performance } from 'node:perf_hooks';
import request from 'supertest';
import { Session, SessionModule } from '@app/session';
import { MysqlStore } from '@app/session';
import { createTestApp } from '../support/http-platform';
import { describeWithService, uniqueName } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { sessionCookieFrom, shouldAnswerStoreUnavailable, TEST_SECRET } from '../support/test-stores';

type AppSession = Session<{ value: string }>;

/** Lets a test hold a request inside its handler (after the session loaded, before it is saved). */
class HandlerGate {
  #reached: () => void = () => undefined;
  #release: () => void = () => undefined;
  reached: Promise<void> = Promise.resolve();
  released: Promise<void> = Promise.resolve();

  arm(): void {
    this.reached = new Promise((resolve) => (this.#reached = resolve));
    this.released = new Promise((resolve) => (this.#release = resolve));
  }

  arrive(): void {
    this.#reached();
  }

  open(): void {
    this.#release();
  }
}

const gate = new HandlerGate();

@Controller()
class ValueController {
  @Post('write')
  @HttpCode(200)
  write(@Session() session: AppSession, @Query('v') value: string): { ok: true } {
    session.value = value;
    return { ok: true };
  }

  @Post('write-after-gate')
  @HttpCode(200)
  async writeAfterGate(@Session() session: AppSession, @Query('v') value: string): Promise<{ ok: true }> {
    session.value = value;
    gate.arrive();
    await gate.released;
    return { ok: true };
  }

  @Get('read')
  read(@Session() session: AppSession): { value: string | null } {
    return { value: session.value ?? null };
  }
}

const OPERATION_TIMEOUT = 500;


describeWithService('mysql')('A Nest app on MysqlStore when MariaDB / MySQL goes away', () => {
  let proxy: TcpProxy;
  let pool: Pool;
  let app: INestApplication;
  const table = uniqueName('sessions');
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    proxy = await new TcpProxy(3306).start();
    pool = createPool({
      host: '127.0.0.1',
      port: proxy.port,
      user: 'root',
      password: '',
      database: 'test',
      connectionLimit: 4,
      connectTimeout: 1_000,
    });
    const store = new MysqlStore({ pool, tableName: table, operationTimeout: OPERATION_TIMEOUT });
    await store.createTable();
    const moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: TEST_SECRET, store })],
      controllers: [ValueController],
    }).compile();
    app = await createTestApp(moduleRef, { logger: false });
  });

  afterEach(() => {
    proxy.restore();
  });

  afterAll(async () => {
    await app.close(); // closes the store (its timer), not the pool
    proxy.restore();
    await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
    await pool.end();
    await proxy.stop();
    process.off('unhandledRejection', onUnhandled);
  });

  const server = () => app.getHttpServer();

  it('answers 503 JSON while the server is cut off, then serves the same cookie again once it is back', async () => {
    const written = await request(server()).post('/write?v=before').expect(200);
    const cookie = sessionCookieFrom(written);
    await request(server()).get('/read').set('Cookie', cookie).expect(200, { value: 'before' });

    proxy.cut();
    const started = performance.now();
    // Reading the session of a valid cookie: 503, not an anonymous { value: null }.
    shouldAnswerStoreUnavailable(await request(server()).get('/read').set('Cookie', cookie));
    // Changing it: 503, not a 200 that silently dropped the write.
    shouldAnswerStoreUnavailable(await request(server()).post('/write?v=during').set('Cookie', cookie));
    // Starting a new session: 503, and no cookie for a session that was never stored.
    shouldAnswerStoreUnavailable(await request(server()).post('/write?v=fresh'));
    // Each request waited at most about one operation timeout (two store calls for the write).
    expect(performance.now() - started).toBeLessThan(3 * 2 * OPERATION_TIMEOUT + 1_000);

    proxy.restore();
    // The write made during the outage was refused, not applied later.
    await request(server()).get('/read').set('Cookie', cookie).expect(200, { value: 'before' });
    await request(server()).post('/write?v=after').set('Cookie', cookie).expect(200);
    await request(server()).get('/read').set('Cookie', cookie).expect(200, { value: 'after' });
    expect(unhandled).toEqual([]);
  });

  it('answers 503 when the server goes away between loading the session and saving the change', async () => {
    const cookie = sessionCookieFrom(await request(server()).post('/write?v=loaded').expect(200));

    gate.arm();
    const responding = request(server()).post('/write-after-gate?v=lost').set('Cookie', cookie).then((response) => response);
    await gate.reached; // the session was read from MariaDB; the handler changed it
    proxy.cut();
    gate.open(); // the commit (an UPDATE) now meets a dead connection
    shouldAnswerStoreUnavailable(await responding);

    proxy.restore();
    await request(server()).get('/read').set('Cookie', cookie).expect(200, { value: 'loaded' });
    expect(unhandled).toEqual([]);
  });

  it('answers 503 to every request of a burst during the outage, and none hangs', async () => {
    const cookie = sessionCookieFrom(await request(server()).post('/write?v=burst').expect(200));

    proxy.cut();
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        index % 2 === 0
          ? request(server()).get('/read').set('Cookie', cookie)
          : request(server()).post(`/write?v=${index}`).set('Cookie', cookie),
      ),
    );
    for (const response of responses) shouldAnswerStoreUnavailable(response);

    proxy.restore();
    await request(server()).get('/read').set('Cookie', cookie).expect(200, { value: 'burst' });
    expect(unhandled).toEqual([]);
  });
});

import { Controller, Get, HttpCode, Post, Query, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Pool } from 'pg';
import request from 'supertest';
import { Session, SessionModule } from '@app/session';
import { PostgresStore } from '@app/session';
import { createTestApp } from '../support/http-platform';
import { describeWithService, uniqueName } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { sessionCookieFrom, shouldAnswerStoreUnavailable, TEST_SECRET } from '../support/test-stores';

const PG_PORT = 5432;
const OPERATION_TIMEOUT = 500;
/** How late an answer may come past the operation timeout (timers, a loaded CI machine). */
const SLACK = 1_000;

type AppSession = Session<{ value: string }>;

@Controller()
class NotesController {
  @Post('write')
  @HttpCode(200)
  write(@Session() session: AppSession, @Query('v') value: string): { ok: true } {
    session.value = value;
    return { ok: true };
  }

  @Get('read')
  read(@Session() session: AppSession): { value: string | null } {
    return { value: session.value ?? null };
  }
}


describeWithService('postgres')('An app on PostgresStore while PostgreSQL goes away and comes back', () => {
  const tableName = uniqueName('sessions');
  const poolErrors: unknown[] = [];
  let admin: Pool;
  let proxy: TcpProxy;
  let pool: Pool;
  let app: INestApplication;

  beforeAll(async () => {
    admin = new Pool({ host: '127.0.0.1', port: PG_PORT, user: 'postgres', database: 'test' });
    proxy = await new TcpProxy(PG_PORT).start();
    pool = new Pool({ host: '127.0.0.1', port: proxy.port, user: 'postgres', database: 'test', connectionTimeoutMillis: 300 });
    // What every application on pg must do: an idle connection that drops emits 'error' on the pool.
    pool.on('error', (error) => poolErrors.push(error));
    const store = new PostgresStore({ pool, tableName, operationTimeout: OPERATION_TIMEOUT, cleanupInterval: false });
    await store.createTable();
    const moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: TEST_SECRET, store })],
      controllers: [NotesController],
    }).compile();
    app = await createTestApp(moduleRef, { logger: false });
  });

  afterAll(async () => {
    await app.close(); // closes the store; the pool stays ours
    await pool.end();
    await proxy.stop();
    await admin.query(`DROP TABLE IF EXISTS "${tableName}"`);
    await admin.end();
  });

  const server = () => app.getHttpServer();

  it('answers 503 during the outage, then serves the same session again without a restart', async () => {
    const written = await request(server()).post('/write?v=before').expect(200);
    const cookie = sessionCookieFrom(written);
    await request(server()).get('/read').set('Cookie', cookie).expect(200, { value: 'before' });

    proxy.cut();

    for (const attempt of [
      () => request(server()).get('/read').set('Cookie', cookie),
      () => request(server()).post('/write?v=during').set('Cookie', cookie),
      () => request(server()).post('/write?v=new'), // a new session cannot be saved either
    ]) {
      const startedAt = Date.now();
      const response = await attempt();
      shouldAnswerStoreUnavailable(response);
      expect(Date.now() - startedAt).toBeLessThan(OPERATION_TIMEOUT + SLACK);
    }

    proxy.restore();

    await request(server()).get('/read').set('Cookie', cookie).expect(200, { value: 'before' });
    await request(server()).post('/write?v=after').set('Cookie', cookie).expect(200);
    await request(server()).get('/read').set('Cookie', cookie).expect(200, { value: 'after' });
    const rows = await admin.query<{ value: string }>(`SELECT data->>'value' AS value FROM "${tableName}"`);
    expect(rows.rows).toEqual([{ value: 'after' }]); // one session, never replaced by an anonymous one
  });
});

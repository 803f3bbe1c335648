import { Controller, Get, HttpCode, Post, Query, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createClient } from 'redis';
import request from 'supertest';
import { Session, SessionModule } from '@app/session';
import { RedisStore } from '@app/session';
import { describeWithService, uniqueName } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { sessionCookieFrom, sessionIdOf, shouldAnswerStoreUnavailable, sleep, storeKeyOf, TEST_SECRET } from '../support/test-stores';

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

  /** Never looks at the session. */
  @Get('health')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }
}

const OPERATION_TIMEOUT = 300;


async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

describeWithService('redis')('A Nest app on RedisStore when Redis goes away and comes back', () => {
  const prefix = `${uniqueName('sess')}:`;
  let proxy: TcpProxy;
  let client: ReturnType<typeof createClient>;
  let admin: ReturnType<typeof createClient>;
  let app: INestApplication;

  beforeAll(async () => {
    admin = createClient({ url: 'redis://127.0.0.1:6379' });
    admin.on('error', () => undefined);
    await admin.connect();
    proxy = await new TcpProxy(6379).start();
    client = createClient({ socket: { host: '127.0.0.1', port: proxy.port, reconnectStrategy: () => 50, connectTimeout: 1_000 } });
    client.on('error', () => undefined);
    await client.connect();
    const moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: TEST_SECRET, store: new RedisStore({ client, prefix, operationTimeout: OPERATION_TIMEOUT }) })],
      controllers: [NotesController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    proxy.restore();
    await app.close();
    // The store left the client open: it is the application's to close.
    expect(client.isOpen).toBe(true);
    await client.close();
    await proxy.stop();
    for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await admin.del(keys);
    }
    await admin.close();
  });

  const server = () => app.getHttpServer();

  it('answers 503 while Redis is unreachable, then serves the same cookie again without a restart', async () => {
    const written = await request(server()).post('/write?v=before').expect(200);
    const cookie = sessionCookieFrom(written);
    await request(server()).get('/read').set('Cookie', cookie).expect(200, { value: 'before' });

    proxy.cut();
    await waitUntil(() => !client.isReady);

    shouldAnswerStoreUnavailable(await request(server()).get('/read').set('Cookie', cookie));
    shouldAnswerStoreUnavailable(await request(server()).post('/write?v=during').set('Cookie', cookie));
    // A route that never looks at the session keeps working.
    await request(server()).get('/health').expect(200, { status: 'ok' });

    proxy.restore();
    await waitUntil(() => client.isReady);

    await request(server()).get('/read').set('Cookie', cookie).expect(200, { value: 'before' });
    await request(server()).post('/write?v=after').set('Cookie', cookie).expect(200);
    await request(server()).get('/read').set('Cookie', cookie).expect(200, { value: 'after' });
  });

  it('answers within about the operation timeout, not after a hang', async () => {
    const cookie = sessionCookieFrom(await request(server()).post('/write?v=x').expect(200));
    proxy.cut();
    await waitUntil(() => !client.isReady);

    const startedAt = Date.now();
    shouldAnswerStoreUnavailable(await request(server()).get('/read').set('Cookie', cookie));
    expect(Date.now() - startedAt).toBeLessThan(OPERATION_TIMEOUT + 1_000);

    proxy.restore();
    await waitUntil(() => client.isReady);
  });

  it('keeps the session under the hash of its id, never the id itself', async () => {
    const cookie = sessionCookieFrom(await request(server()).post('/write?v=at-rest').expect(200));
    const keys: string[] = [];
    for await (const page of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) keys.push(...page);

    expect(keys).toContain(`${prefix}${storeKeyOf(cookie)}`);
    expect(keys.filter((key) => key.includes(sessionIdOf(cookie)))).toEqual([]);
    expect(await admin.hGet(`${prefix}${storeKeyOf(cookie)}`, 'd:value')).toBe('"at-rest"');
  });
});

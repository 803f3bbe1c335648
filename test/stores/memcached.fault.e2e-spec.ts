import { Controller, Get, HttpCode, Post, Query, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import * as memjs from 'memjs';
import request from 'supertest';
import { Session, SessionModule, type SessionStore } from '@app/session';
import { MemcachedStore } from '@app/session';
import { describeWithService, uniqueName } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { sessionCookieFrom, shouldAnswerStoreUnavailable, storeKeyOf, TEST_SECRET } from '../support/test-stores';

type AppSession = Session<{ value: string }>;

@Controller()
class NotesController {
  @Get('value')
  read(@Session() session: AppSession): { value: string | null } {
    return { value: session.value ?? null };
  }

  @Post('value')
  @HttpCode(200)
  write(@Session() session: AppSession, @Query('v') value: string): { ok: true } {
    session.value = value;
    return { ok: true };
  }
}


describeWithService('memcached')('A Nest app on MemcachedStore when memcached goes away', () => {
  const OPERATION_TIMEOUT_MS = 500;
  let proxy: TcpProxy;
  let client: memjs.Client;
  let store: SessionStore;
  let app: INestApplication;
  const cookies: string[] = [];

  beforeAll(async () => {
    proxy = await new TcpProxy(11211).start();
    client = memjs.Client.create(`127.0.0.1:${proxy.port}`, { timeout: 0.3, retries: 1, logger: { log: () => undefined } });
    store = new MemcachedStore({ client, prefix: `${uniqueName('sess')}:`, operationTimeout: OPERATION_TIMEOUT_MS });
    const moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: TEST_SECRET, store })],
      controllers: [NotesController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    proxy.restore();
    for (const cookie of cookies) await store.destroy(storeKeyOf(cookie));
    await app.close();
    client.close();
    await proxy.stop();
  });

  const server = () => app.getHttpServer();

  it('answers 503 while memcached is unreachable, then serves the same session again once it is back', async () => {
    const cookie = sessionCookieFrom(await request(server()).post('/value?v=before').expect(200));
    cookies.push(cookie);
    await request(server()).get('/value').set('Cookie', cookie).expect(200, { value: 'before' });

    proxy.cut();
    const started = performance.now();
    shouldAnswerStoreUnavailable(await request(server()).get('/value').set('Cookie', cookie));
    shouldAnswerStoreUnavailable(await request(server()).post('/value?v=during').set('Cookie', cookie));
    expect(performance.now() - started).toBeLessThan(2 * (OPERATION_TIMEOUT_MS + 250));

    proxy.restore();
    await request(server()).get('/value').set('Cookie', cookie).expect(200, { value: 'before' });
    await request(server()).post('/value?v=after').set('Cookie', cookie).expect(200);
    await request(server()).get('/value').set('Cookie', cookie).expect(200, { value: 'after' });
  });

  it('answers 503, not a fresh anonymous session, to a new visitor whose session cannot be saved', async () => {
    proxy.cut();
    try {
      shouldAnswerStoreUnavailable(await request(server()).post('/value?v=new'));
    } finally {
      proxy.restore();
    }
    const response = await request(server()).post('/value?v=new').expect(200);
    cookies.push(sessionCookieFrom(response));
  });
});

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Controller, Get, HttpCode, Post, Query, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import * as memjs from 'memjs';
import request from 'supertest';
import { Session, SessionModule, type SessionStore } from '@app/session';
import { MemcachedStore } from '@app/session';
import { createTestApp } from '../support/http-platform';
import { describeWithService, uniqueName } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { sessionCookieFrom, shouldAnswerStoreUnavailable, sleep, storeKeyOf, TEST_SECRET, timeToFirstWrite } from '../support/test-stores';

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
    app = await createTestApp(moduleRef, { logger: false });
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

describeWithService('memcached')('MemcachedStore back within a second of memcached, outage after outage', () => {
  // The default bound: a request memjs never answers waits this long, which is what the fix removes.
  const OPERATION_TIMEOUT_MS = 2_000;
  /** Writes kept in flight during an outage, as a loaded instance has. */
  const CONCURRENT_WRITERS = 10;
  const prefix = `${uniqueName('sess')}:`;
  let proxy: TcpProxy;
  let client: memjs.Client;
  let store: MemcachedStore;
  const keys: string[] = [];

  beforeAll(async () => {
    proxy = await new TcpProxy(11211).start();
    client = memjs.Client.create(`127.0.0.1:${proxy.port}`, { timeout: 0.25, retries: 1, logger: { log: () => undefined } });
    store = new MemcachedStore({ client, prefix, operationTimeout: OPERATION_TIMEOUT_MS });
  });

  afterAll(async () => {
    proxy.restore();
    await proxy.released();
    for (const key of keys) await store.destroy(key);
    client.close();
    await proxy.stop();
  });

  const record = () => ({ data: { n: 0 }, createdAt: Date.now(), touchedAt: Date.now(), expiresAt: Date.now() + 60_000 });
  const newSessionKey = (): string => {
    const key = storeKeyOf(`sid=${randomBytes(32).toString('base64url')}`);
    keys.push(key);
    return key;
  };

  /** Keeps CONCURRENT_WRITERS writes in flight for `ms`; every one may fail. */
  async function loadFor(ms: number): Promise<void> {
    const until = Date.now() + ms;
    await Promise.all(
      Array.from({ length: CONCURRENT_WRITERS }, async (_, index) => {
        while (Date.now() < until) {
          await store.update(keys[0], { set: { [`w${index}`]: Date.now() }, unset: [], touchedAt: Date.now(), expiresAt: Date.now() + 60_000 }).catch(() => undefined);
        }
      }),
    );
  }

  const outages: Array<[string, () => void, () => void]> = [
    ['refused connections (cut / restore)', () => proxy.cut(), () => proxy.restore()],
    // Open connections freeze; the ones open during the partition deliver what they held 1.5 s
    // after new connections work again (TCP retransmission), and only then close.
    ['a partition that heals late (freeze / heal)', () => proxy.freeze(), () => proxy.heal({ heldConnectionsAfterMs: 1_500 })],
  ];

  it.each(outages)('serves the first write within 1 s after %s, three times in a row', async (_kind, goDown, comeBack) => {
    await store.set(newSessionKey(), record());
    const timings: number[] = [];
    for (let round = 0; round < 3; round++) {
      const load = loadFor(2_100);
      await sleep(100);
      goDown();
      await sleep(2_000);
      comeBack();
      timings.push(await timeToFirstWrite(store, newSessionKey));
      await load;
      await proxy.released();
    }
    // Printed for the record (the issue's numbers come from here); the assertion is the bound.
    console.info(`[memcached recovery] ${_kind}: ${timings.map((ms) => `${Math.round(ms)} ms`).join(', ')}`);
    for (const elapsed of timings) expect(elapsed).toBeLessThan(1_000);
  }, 30_000);
});

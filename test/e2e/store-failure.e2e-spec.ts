import { Controller, Get, HttpCode, Post, Query, Res, UseGuards, type INestApplication } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request, { type Response } from 'supertest';
import { Public, Session, SessionGuard, SessionModule } from '@app/session';
import {
  expiresCookie,
  FailingStore,
  sessionCookieFrom,
  setCookieFor,
  sleep,
  storeKeyOf,
  TEST_SECRET,
} from '../support/test-stores';
import { createTestApp } from '../support/http-platform';

type AppSession = Session<{ value: string }>;

@Controller()
class StoreFailureController {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /** Never looks at the session. */
  @Get('health')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Reads the session without changing it. */
  @Get('whoami')
  whoami(@Session() session: AppSession): { user: string | null; value: string | null } {
    return { user: session.user ? String(session.user.id) : null, value: session.value ?? null };
  }

  @Post('write')
  @HttpCode(200)
  write(@Session() session: AppSession, @Query('v') value: string): { ok: true } {
    session.value = value;
    return { ok: true };
  }

  /** Redirects through the platform's own response under `@Res()` (Express's `res.redirect()`, Fastify's `reply.redirect()`). */
  @Post('write-and-redirect')
  writeAndRedirect(@Session() session: AppSession, @Query('v') value: string, @Res() response: unknown): void {
    session.value = value;
    this.adapterHost.httpAdapter.redirect(response, 303, '/whoami');
  }

  @Post('login')
  @HttpCode(200)
  async login(@Session() session: AppSession): Promise<{ ok: true }> {
    await session.login({ id: 'alice' });
    return { ok: true };
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@Session() session: AppSession): Promise<void> {
    await session.logout();
  }

  @Post('reload')
  @HttpCode(200)
  async reload(@Session() session: AppSession): Promise<{ value: string | null }> {
    await session.reload();
    return { value: session.value ?? null };
  }

  @Get('private')
  @UseGuards(SessionGuard)
  private(@Session() session: AppSession): { user: string } {
    return { user: String(session.user!.id) };
  }

  @Get('open')
  @Public()
  open(): { open: true } {
    return { open: true };
  }
}

/** 503 with the library's message: the client is told to retry, not that it is anonymous or that the server broke. */
function shouldAnswerStoreUnavailable(response: Response): void {
  expect(response.status).toBe(503);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(response.body).toMatchObject({
    statusCode: 503,
    message: expect.stringMatching(/^Session store unavailable/),
  });
}

/** The response neither issues a session cookie nor deletes the one the browser has. */
function shouldLeaveTheCookieAlone(response: Response): void {
  expect(setCookieFor(response)).toBeUndefined();
}

describe('A failing session store', () => {
  // idleTimeout 1 s gives a touch interval of 100 ms, so the touch path can be reached quickly.
  const IDLE_TIMEOUT_MS = 1000;
  let app: INestApplication;
  let store: FailingStore;

  beforeAll(async () => {
    store = new FailingStore();
    const moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: TEST_SECRET, store, idleTimeout: IDLE_TIMEOUT_MS })],
      controllers: [StoreFailureController],
    }).compile();
    app = await createTestApp(moduleRef, { logger: false });
  });

  afterEach(() => {
    store.recover();
  });

  afterAll(async () => {
    await app.close();
  });

  const server = () => app.getHttpServer();

  /** A session created while the store works: `value` set, or `alice` signed in. */
  async function cookieWith(kind: 'value' | 'user'): Promise<string> {
    const response =
      kind === 'value'
        ? await request(server()).post('/write?v=stored').expect(200)
        : await request(server()).post('/login').expect(200);
    return sessionCookieFrom(response);
  }

  describe('when loading the session of a request with a valid cookie fails', () => {
    it('answers 503 instead of treating the request as anonymous', async () => {
      const cookie = await cookieWith('value');
      store.goDown(['get']);

      const response = await request(server()).get('/whoami').set('Cookie', cookie);

      shouldAnswerStoreUnavailable(response);
      expect(store.calls.at(-1)).toMatchObject({ operation: 'get', key: storeKeyOf(cookie), outcome: 'rejected' });
    });

    it('answers 503, not 401, on a guarded route for a signed-in user', async () => {
      const cookie = await cookieWith('user');
      store.goDown();

      const response = await request(server()).get('/private').set('Cookie', cookie).set('Accept', 'application/json');

      shouldAnswerStoreUnavailable(response);
    });

    it('answers 503, not a redirect to the login page, for a browser asking for a page', async () => {
      const cookie = await cookieWith('user');
      store.goDown();

      const response = await request(server())
        .get('/private')
        .set('Cookie', cookie)
        .set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8');

      shouldAnswerStoreUnavailable(response);
      expect(response.headers.location).toBeUndefined();
    });

    it('keeps the browser cookie, so the session is back once the store recovers', async () => {
      const cookie = await cookieWith('user');
      store.goDown();

      const during = await request(server()).get('/whoami').set('Cookie', cookie);
      shouldAnswerStoreUnavailable(during);
      shouldLeaveTheCookieAlone(during);

      store.recover();
      const after = await request(server()).get('/whoami').set('Cookie', cookie).expect(200);
      expect(after.body).toEqual({ user: 'alice', value: null });
    });
  });

  describe('when committing what the handler wrote fails', () => {
    it('answers 503 and issues no cookie for a new session that was never saved', async () => {
      store.goDown(['set']);

      const response = await request(server()).post('/write?v=lost');

      shouldAnswerStoreUnavailable(response);
      shouldLeaveTheCookieAlone(response);
      expect(response.headers['retry-after']).toBeDefined();
      expect(store.calls.at(-1)).toMatchObject({ operation: 'set', outcome: 'rejected' });
    });

    it('answers 503 for a change to an existing session, and the stored data stays as it was', async () => {
      const cookie = await cookieWith('value');
      store.goDown(['update']);

      const response = await request(server()).post('/write?v=changed').set('Cookie', cookie);

      shouldAnswerStoreUnavailable(response);
      shouldLeaveTheCookieAlone(response);
      store.recover();
      const after = await request(server()).get('/whoami').set('Cookie', cookie).expect(200);
      expect(after.body).toEqual({ user: null, value: 'stored' });
    });

    it('answers 503 instead of a redirect a browser would follow believing the write succeeded', async () => {
      store.goDown(['set']);

      const response = await request(server()).post('/write-and-redirect?v=lost');

      shouldAnswerStoreUnavailable(response);
      shouldLeaveTheCookieAlone(response);
      expect(response.headers.location).toBeUndefined();
    });

    it('answers 503 when the due touch of a live session fails', async () => {
      const cookie = await cookieWith('value');
      await sleep(150); // past the 100 ms touch interval
      store.goDown(['touch']);

      const response = await request(server()).get('/whoami').set('Cookie', cookie);

      shouldAnswerStoreUnavailable(response);
      expect(store.calls.at(-1)).toMatchObject({ operation: 'touch', outcome: 'rejected' });
    });
  });

  describe('when a session method called by the handler fails', () => {
    it('answers 503 when logout cannot delete the session, and the session is still signed in afterwards', async () => {
      const cookie = await cookieWith('user');
      store.goDown(['destroy']);

      const response = await request(server()).post('/logout').set('Cookie', cookie);

      shouldAnswerStoreUnavailable(response);
      shouldLeaveTheCookieAlone(response);
      store.recover();
      const after = await request(server()).get('/whoami').set('Cookie', cookie).expect(200);
      expect(after.body).toEqual({ user: 'alice', value: null });
    });

    it('answers 503 when login cannot retire the previous session id', async () => {
      const cookie = await cookieWith('value');
      store.goDown(['destroy']);

      const response = await request(server()).post('/login').set('Cookie', cookie);

      shouldAnswerStoreUnavailable(response);
      shouldLeaveTheCookieAlone(response);
    });

    it('answers 503 when reload cannot read the store', async () => {
      const cookie = await cookieWith('value');
      const mark = store.mark();
      // Let the middleware's load through, then fail the handler's re-read.
      store.goDown(['get'], { after: 1 });

      const response = await request(server()).post('/reload').set('Cookie', cookie);

      expect(store.callsSince(mark, ['get']).map((call) => call.outcome)).toEqual(['resolved', 'rejected']);
      shouldAnswerStoreUnavailable(response);
    });
  });

  describe('a request without a session cookie', () => {
    beforeEach(() => {
      store.goDown();
    });

    it('is served while the store is down, on a route that does not use the session, without any store call', async () => {
      const mark = store.mark();

      const response = await request(server()).get('/health').expect(200);

      expect(response.body).toEqual({ status: 'ok' });
      expect(store.callsSince(mark)).toEqual([]);
      shouldLeaveTheCookieAlone(response);
    });

    it('is served as the anonymous visitor it is, on a route that only reads the session', async () => {
      const mark = store.mark();

      const response = await request(server()).get('/whoami').expect(200);

      expect(response.body).toEqual({ user: null, value: null });
      expect(store.callsSince(mark)).toEqual([]);
    });

    it('gets the normal 401 from a guarded route, not 503', async () => {
      const mark = store.mark();

      const response = await request(server()).get('/private').set('Accept', 'application/json').expect(401);

      expect(response.body).toMatchObject({ statusCode: 401 });
      expect(store.callsSince(mark)).toEqual([]);
    });

    it('with a forged cookie is anonymous without reaching the store, and the bad cookie is deleted', async () => {
      const forged = `sid=${'A'.repeat(43)}.${'B'.repeat(43)}`;
      const mark = store.mark();

      const response = await request(server()).get('/whoami').set('Cookie', forged).expect(200);

      expect(response.body).toEqual({ user: null, value: null });
      expect(store.callsSince(mark)).toEqual([]);
      expect(expiresCookie(response)).toBe(true);
    });
  });
});

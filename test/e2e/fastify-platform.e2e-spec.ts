import { Controller, Get, HttpCode, Module, Post, Query, Redirect, Req, Res, StreamableFile, UseGuards, type INestApplication } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { Readable } from 'node:stream';
import request from 'supertest';
import type { App } from 'supertest/types';
import { Session, SessionConfigError, SessionGuard, SessionModule, type SessionOptions } from '@app/session';
import { sessionCookieOf } from '../support/cookies';
import { createTestApp } from '../support/http-platform';
import { FailingStore, SlowStore, TEST_SECRET } from '../support/test-stores';

/*
 * What only Fastify needs saying: its request object carries the session, the commit runs in its
 * onSend hook on every way a reply leaves, its own cookies stay, and a platform the module cannot
 * hook fails the boot. The rest of the suites run on Fastify too (HTTP_PLATFORM=fastify).
 */

type CounterSession = Session<{ count?: number; note?: string }>;

interface FastifyLikeRequest {
  session: CounterSession;
  raw: unknown;
}

interface FastifyLikeReply {
  header(name: string, value: string): FastifyLikeReply;
  redirect(url: string, code: number): FastifyLikeReply;
}

@Controller()
class FastifyController {
  @Post('count')
  @HttpCode(200)
  count(@Session() session: CounterSession): { count: number } {
    session.count = (session.count ?? 0) + 1;
    return { count: session.count };
  }

  @Get('count')
  read(@Req() request: FastifyLikeRequest): { count: number | null; same: boolean } {
    return { count: request.session.count ?? null, same: request.session === request.session };
  }

  @Post('login')
  @HttpCode(204)
  async login(@Session() session: CounterSession): Promise<void> {
    await session.login({ id: 'alice', roles: ['user'] });
  }

  @Get('private')
  @UseGuards(SessionGuard)
  private(@Req() request: FastifyLikeRequest): { user: unknown } {
    return { user: (request.session as unknown as { user: unknown }).user };
  }

  @Post('with-own-cookie')
  @HttpCode(200)
  withOwnCookie(@Session() session: CounterSession, @Res({ passthrough: true }) reply: FastifyLikeReply): { ok: true } {
    session.note = 'set';
    reply.header('set-cookie', 'theme=dark; Path=/');
    return { ok: true };
  }

  @Post('redirect-decorator')
  @Redirect('/count', 303)
  redirectDecorator(@Session() session: CounterSession, @Query('v') value: string): void {
    session.note = value;
  }

  @Post('reply-redirect')
  replyRedirect(@Session() session: CounterSession, @Query('v') value: string, @Res() reply: FastifyLikeReply): void {
    session.note = value;
    reply.redirect('/count', 303);
  }

  @Post('stream')
  stream(@Session() session: CounterSession): StreamableFile {
    session.note = 'streamed';
    return new StreamableFile(Readable.from(['chunk-1,', 'chunk-2']));
  }

  @Get('note')
  note(@Session() session: CounterSession): { note: string | null } {
    return { note: session.note ?? null };
  }

  @Post('regenerate')
  @HttpCode(200)
  async regenerate(@Req() request: FastifyLikeRequest): Promise<{ same: boolean }> {
    const before = request.session;
    await new Promise<void>((resolve, reject) => {
      (request.session as unknown as { regenerate(callback: (error?: Error) => void): void }).regenerate((error) =>
        error ? reject(error) : resolve(),
      );
    });
    // express-session semantics: request.session names the new session right after the call.
    return { same: before === request.session };
  }

  @Post('session-null')
  @HttpCode(204)
  sessionNull(@Req() request: FastifyLikeRequest): void {
    (request as { session: CounterSession | null }).session = null;
  }
}

async function fastifyApp(options: SessionOptions): Promise<INestApplication> {
  @Module({ imports: [SessionModule.forRoot(options)], controllers: [FastifyController] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  return createTestApp(moduleRef, { logger: false }, 'fastify');
}

describe('on @nestjs/platform-fastify', () => {
  let app: INestApplication;
  let server: App;
  let store: SlowStore;

  beforeAll(async () => {
    store = new SlowStore(40);
    app = await fastifyApp({ secret: TEST_SECRET, store });
    server = app.getHttpServer() as App;
  });

  afterAll(async () => {
    await app.close();
  });

  it('keeps a session across requests and hands it to @Session() and request.session alike', async () => {
    const first = await request(server).post('/count').expect(200);
    expect(first.body).toEqual({ count: 1 });
    const cookie = sessionCookieOf(first);
    await request(server).post('/count').set('Cookie', cookie).expect(200, { count: 2 });
    await request(server).get('/count').set('Cookie', cookie).expect(200, { count: 2, same: true });
  });

  it('costs an anonymous request no store call and no cookie', async () => {
    const mark = store.mark();
    const response = await request(server).get('/count').expect(200, { count: null, same: true });
    expect(response.headers['set-cookie']).toBeUndefined();
    expect(store.callsSince(mark)).toEqual([]);
  });

  it('lets SessionGuard through after login, and refuses the anonymous with 401', async () => {
    await request(server).get('/private').set('Accept', 'application/json').expect(401);
    const login = await request(server).post('/login').expect(204);
    const response = await request(server).get('/private').set('Cookie', sessionCookieOf(login)).expect(200);
    expect(response.body).toEqual({ user: { id: 'alice', roles: ['user'] } });
  });

  it('adds its cookie beside the application own Set-Cookie, never in its place', async () => {
    const response = await request(server).post('/with-own-cookie').expect(200);
    const cookies = response.headers['set-cookie'] as unknown as string[];
    expect(cookies).toHaveLength(2);
    expect(cookies[0]).toBe('theme=dark; Path=/');
    expect(cookies[1]).toMatch(/^sid=/);
  });

  it.each(['redirect-decorator', 'reply-redirect', 'stream'])('commits before the response leaves: POST /%s', async (path) => {
    const response = await request(server).post(`/${path}?v=${path}`);
    expect([200, 201, 303]).toContain(response.status);
    const cookie = sessionCookieOf(response);
    // The write (40 ms) finished before the client got the answer: the next request sees it.
    const expected = path === 'stream' ? 'streamed' : path;
    await request(server).get('/note').set('Cookie', cookie).expect(200, { note: expected });
    if (path === 'stream') expect(response.text === 'chunk-1,chunk-2' || response.body.toString() === 'chunk-1,chunk-2').toBe(true);
  });

  it('gives request.session the express-session methods: regenerate() swaps the session in place', async () => {
    const first = await request(server).post('/count').expect(200);
    const response = await request(server).post('/regenerate').set('Cookie', sessionCookieOf(first)).expect(200);
    expect(response.body).toEqual({ same: false });
    // The old session is gone; the new one is empty, so it is not stored and the cookie expires.
    expect(String(response.headers['set-cookie'])).toMatch(/Max-Age=0/i);
    await request(server).get('/count').set('Cookie', sessionCookieOf(first)).expect(200, { count: null, same: true });
  });

  it('ends the session on request.session = null (cookie-session semantics)', async () => {
    const first = await request(server).post('/count').expect(200);
    const ended = await request(server).post('/session-null').set('Cookie', sessionCookieOf(first)).expect(204);
    expect(String(ended.headers['set-cookie'])).toMatch(/Max-Age=0/i);
    await request(server).get('/count').set('Cookie', sessionCookieOf(first)).expect(200, { count: null, same: true });
  });
});

describe('on Fastify, a store outage', () => {
  it('answers 503 (never 500, never a silent loss) when the commit fails, also for a stream', async () => {
    const store = new FailingStore();
    const app = await fastifyApp({ secret: TEST_SECRET, store });
    try {
      const server = app.getHttpServer() as App;
      const first = await request(server).post('/count').expect(200);
      store.goDown(['set', 'update', 'touch']);
      for (const path of ['/count', '/stream', '/redirect-decorator?v=x']) {
        const response = await request(server).post(path).set('Cookie', sessionCookieOf(first));
        expect(response.status).toBe(503);
        expect(response.headers['retry-after']).toBe('5');
        expect(response.headers['set-cookie']).toBeUndefined();
        expect(response.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'Session store unavailable, please retry shortly' });
      }
    } finally {
      await app.close();
    }
  });
});

describe('a platform the module cannot hook', () => {
  it('fails the boot with a SessionConfigError naming it', async () => {
    // A working adapter that reports another platform: what an adapter for Koa, say, would be.
    class OtherAdapter extends ExpressAdapter {
      override getType(): string {
        return 'koa';
      }
    }
    @Module({ imports: [SessionModule.forRoot({ secret: TEST_SECRET })] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication(new OtherAdapter(), { logger: false });
    await expect(app.init()).rejects.toThrow(SessionConfigError);
    await expect(app.init()).rejects.toThrow(/"koa" \(OtherAdapter\) is not supported.*platform-express.*platform-fastify/);
  });
});

// Express only, whatever HTTP_PLATFORM says: this is about where the Express platform puts its
// hooks (Express's per-application prototypes). Fastify's are declared once with its own API.
import { Controller, Get, HttpCode, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { IncomingMessage, ServerResponse } from 'node:http';
import request from 'supertest';
import type { App } from 'supertest/types';
import { Session, SessionModule, type SessionHandle } from '@app/session';
import { SlowStore, sessionCookieFrom, TEST_SECRET } from '../support/test-stores';

/**
 * The session middleware puts `req.session` and the response's commit hooks on Express's
 * per-application prototypes once, rather than on every request. These suites check the cases
 * where it must not, or where that could leak: a middleware that ran before it and wrapped
 * `res.end` or set `req.session` itself, two applications in one process, and a response that no
 * session middleware saw.
 */

type AppSession = SessionHandle & { user?: { id: string } };

@Controller()
class HookController {
  @Post('login')
  @HttpCode(200)
  async login(@Session() session: AppSession): Promise<{ ok: true }> {
    await session.login({ id: 'alice' });
    return { ok: true };
  }

  @Get('me')
  me(@Session() session: AppSession): { user: unknown } {
    return { user: session.user ?? null };
  }
}

type Middleware = (request: IncomingMessage & { session?: unknown }, response: ServerResponse, next: () => void) => void;

async function createApp(before?: Middleware): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    // A store that takes its time, so every login commit takes the pending (asynchronous) path.
    imports: [SessionModule.forRoot({ secret: TEST_SECRET, store: new SlowStore(30) })],
    controllers: [HookController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  if (before) app.use(before);
  await app.init();
  return app;
}

async function signInAndReadBack(app: INestApplication): Promise<unknown> {
  const server = app.getHttpServer() as App;
  const login = await request(server).post('/login');
  expect(login.status).toBe(200);
  const me = await request(server).get('/me').set('Cookie', sessionCookieFrom(login));
  expect(me.status).toBe(200);
  return (me.body as { user: unknown }).user;
}

describe('session hooks on the prototypes, and when they must go on the request itself', () => {
  const apps: INestApplication[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  it('commits before a wrapper of res.end set by an earlier middleware sends the response', async () => {
    const events: string[] = [];
    const app = await createApp((_request, response, next) => {
      const original = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
      // What compression and similar middleware do: an own `end` on the response.
      response.end = ((...args: unknown[]) => {
        events.push('wrapper end');
        return original(...args);
      }) as ServerResponse['end'];
      next();
    });
    apps.push(app);
    await expect(signInAndReadBack(app)).resolves.toEqual({ id: 'alice' });
    expect(events.length).toBeGreaterThanOrEqual(2);
  });

  it('works when an earlier middleware already set req.session on the request', async () => {
    const app = await createApp((request, _response, next) => {
      request.session = 'set by someone else';
      next();
    });
    apps.push(app);
    await expect(signInAndReadBack(app)).resolves.toEqual({ id: 'alice' });
  });

  it('keeps two applications in one process apart', async () => {
    const first = await createApp();
    const second = await createApp();
    apps.push(first, second);
    await expect(signInAndReadBack(first)).resolves.toEqual({ id: 'alice' });
    await expect(signInAndReadBack(second)).resolves.toEqual({ id: 'alice' });
    // A cookie of one application is not a session of the other (each has its own memory store).
    const login = await request(first.getHttpServer() as App).post('/login');
    const elsewhere = await request(second.getHttpServer() as App).get('/me').set('Cookie', sessionCookieFrom(login));
    expect(elsewhere.body).toEqual({ user: null });
  });

  it('sets no cookie on a 404 for a route that does not exist', async () => {
    const app = await createApp();
    apps.push(app);
    const server = app.getHttpServer() as App;
    await request(server).post('/login'); // the prototype hooks are installed by now
    const notFound = await request(server).get('/no-such-route');
    expect(notFound.status).toBe(404);
    expect(notFound.headers['set-cookie']).toBeUndefined();
  });
});

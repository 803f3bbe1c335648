import {
  BadRequestException,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Post,
  Query,
  Redirect,
  Res,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { performance } from 'node:perf_hooks';
import request, { type Response } from 'supertest';
import { Roles, Session, SessionGuard, SessionModule, type SessionOptions } from '@app/session';
import {
  SlowStore,
  sessionCookieFrom,
  setCookieFor,
  sleep,
  storeKeyOf,
  TEST_SECRET,
  type SpyStore,
} from '../support/test-stores';
import { createTestApp } from '../support/http-platform';

/** Every store write of these tests takes this long: a response that did not wait would beat it. */
const STORE_DELAY_MS = 50;

type PathSession = Session<{ value: string }>;

/** Writes `session.value` from `?v=` and then lets the request through; the next guard decides. */
@Injectable()
class RecordVisitGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ session: PathSession; query: { v?: string } }>();
    request.session.value = request.query.v;
    return true;
  }
}

/**
 * One handler per way a Nest response can leave; each writes `session.value = ?v` first. The
 * handlers under `@Res()` answer through the HTTP adapter, so they use the platform's own response:
 * Express's `res.redirect()`/`res.json()`, or Fastify's `reply.redirect()`/`reply.send()`.
 */
@Controller('paths')
class CommitPathsController {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  @Get('read')
  read(@Session() session: PathSession): { data: Record<string, unknown> } {
    return { data: { ...session } };
  }

  @Post('returned')
  returned(@Session() session: PathSession, @Query('v') value: string): { ok: true } {
    session.value = value;
    return { ok: true };
  }

  @Post('redirect-decorator')
  @Redirect('/paths/read', 303)
  redirectDecorator(@Session() session: PathSession, @Query('v') value: string): void {
    session.value = value;
  }

  @Post('res-redirect')
  resRedirect(@Session() session: PathSession, @Query('v') value: string, @Res() response: unknown): void {
    session.value = value;
    this.adapterHost.httpAdapter.redirect(response, 303, '/paths/read');
  }

  @Post('res-json')
  resJson(@Session() session: PathSession, @Query('v') value: string, @Res() response: unknown): void {
    session.value = value;
    this.adapterHost.httpAdapter.reply(response, { ok: true }, 200);
  }

  @Post('thrown')
  thrown(@Session() session: PathSession, @Query('v') value: string): never {
    session.value = value;
    throw new BadRequestException('Rejected after writing the session');
  }

  @Get('guarded')
  @UseGuards(RecordVisitGuard, SessionGuard)
  guarded(): { ok: true } {
    return { ok: true };
  }

  @Post('passthrough')
  @HttpCode(202)
  passthrough(
    @Session() session: PathSession,
    @Query('v') value: string,
    @Res({ passthrough: true }) response: unknown,
  ): { ok: true } {
    session.value = value;
    this.adapterHost.httpAdapter.setHeader(response, 'X-Handled-By', 'passthrough');
    return { ok: true };
  }

  @Post('save-explicitly')
  async saveExplicitly(@Session() session: PathSession, @Query('v') value: string): Promise<{ ok: true }> {
    session.value = value;
    await session.save();
    return { ok: true };
  }

  @Post('save-then-change')
  async saveThenChange(@Session() session: PathSession, @Query('v') value: string): Promise<{ ok: true }> {
    session.value = `${value}:first`;
    await session.save();
    session.value = `${value}:second`;
    return { ok: true };
  }

  @Post('login')
  async login(@Session() session: PathSession): Promise<{ ok: true }> {
    await session.login({ id: 'alice', roles: ['reader'] });
    return { ok: true };
  }

  @Get('admin')
  @UseGuards(SessionGuard)
  @Roles('admin')
  admin(): { ok: true } {
    return { ok: true };
  }
}

async function createApp(options: Partial<SessionOptions> & { store: SpyStore }): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [SessionModule.forRoot({ secret: TEST_SECRET, ...options })],
    controllers: [CommitPathsController],
  }).compile();
  return createTestApp(moduleRef, { logger: false });
}

/** A url-safe form of a test name (whitespace, even percent-encoded, is never kept in a returnTo). */
function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9]+/g, '-');
}

/** Sends a request and notes when its response had fully arrived at the client. */
async function timed(pending: request.Test): Promise<{ response: Response; receivedAt: number }> {
  const response = await pending;
  return { response, receivedAt: performance.now() };
}

/** The request made exactly `count` store writes, each finished before the client had the response. */
function shouldHaveFinishedWritesBeforeResponse(store: SpyStore, mark: number, receivedAt: number, count = 1): void {
  const writes = store.writesSince(mark);
  expect(writes).toHaveLength(count);
  for (const write of writes) {
    expect(write.outcome).toBe('resolved');
    expect(write.finishedAt).toBeDefined();
    expect(write.finishedAt!).toBeLessThanOrEqual(receivedAt);
  }
}

interface CommitPath {
  readonly name: string;
  readonly method: 'get' | 'post';
  readonly url: string;
  readonly accept: string;
  readonly status: number;
  /** Where the response points the browser, for redirects. */
  readonly location?: string;
  readonly check?: (response: Response) => void;
}

const COMMIT_PATHS: readonly CommitPath[] = [
  { name: 'a returned value', method: 'post', url: '/paths/returned', accept: 'application/json', status: 201 },
  { name: '@Redirect()', method: 'post', url: '/paths/redirect-decorator', accept: 'application/json', status: 303, location: '/paths/read' },
  { name: "the platform's redirect under @Res()", method: 'post', url: '/paths/res-redirect', accept: 'application/json', status: 303, location: '/paths/read' },
  { name: "the platform's JSON reply under @Res()", method: 'post', url: '/paths/res-json', accept: 'application/json', status: 200 },
  {
    name: 'an HttpException thrown after the write',
    method: 'post',
    url: '/paths/thrown',
    accept: 'application/json',
    status: 400,
    check: (response) => expect(response.body).toMatchObject({ message: 'Rejected after writing the session' }),
  },
  {
    name: 'a guard rejection (401) after an earlier guard wrote',
    method: 'get',
    url: '/paths/guarded',
    accept: 'application/json',
    status: 401,
  },
  {
    name: 'a guard rejection turned into the login redirect after an earlier guard wrote',
    method: 'get',
    url: '/paths/guarded',
    accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
    status: 303,
  },
  {
    name: '@Res({ passthrough: true })',
    method: 'post',
    url: '/paths/passthrough',
    accept: 'application/json',
    status: 202,
    check: (response) => expect(response.headers['x-handled-by']).toBe('passthrough'),
  },
];

describe('The session is committed before the response leaves, on every response path', () => {
  let app: INestApplication;
  let store: SlowStore;

  beforeAll(async () => {
    store = new SlowStore(STORE_DELAY_MS);
    app = await createApp({ store });
  });

  afterAll(async () => {
    await app.close();
  });

  function send(path: CommitPath, value: string, cookie?: string): request.Test {
    const url = `${path.url}?v=${encodeURIComponent(value)}`;
    const pending = request(app.getHttpServer())[path.method](url).set('Accept', path.accept);
    return cookie === undefined ? pending : pending.set('Cookie', cookie);
  }

  async function readSession(cookie: string): Promise<Record<string, unknown>> {
    const response = await request(app.getHttpServer()).get('/paths/read').set('Cookie', cookie).expect(200);
    return (response.body as { data: Record<string, unknown> }).data;
  }

  describe.each(COMMIT_PATHS)('$name', (path) => {
    it('creates the new session in the store before the response is sent, and the next request sees it', async () => {
      const value = `new-via-${slug(path.name)}`;
      const mark = store.mark();

      const { response, receivedAt } = await timed(send(path, value));

      expect(response.status).toBe(path.status);
      if (path.location !== undefined) expect(response.headers.location).toBe(path.location);
      if (path.status === 303 && path.location === undefined) {
        expect(response.headers.location).toBe(`/login?returnTo=${encodeURIComponent(`${path.url}?v=${encodeURIComponent(value)}`)}`);
      }
      path.check?.(response);
      shouldHaveFinishedWritesBeforeResponse(store, mark, receivedAt);
      const [create] = store.writesSince(mark);
      expect(create).toMatchObject({ operation: 'set', patch: undefined });

      const cookie = sessionCookieFrom(response);
      expect(create.key).toBe(storeKeyOf(cookie));
      // A browser following the redirect (or simply making its next request) sees the new state.
      await expect(readSession(cookie)).resolves.toEqual({ value });
    });

    it('updates an existing session before the response is sent, without re-sending an unchanged cookie', async () => {
      const seeded = await request(app.getHttpServer()).post('/paths/returned?v=seed').expect(201);
      const cookie = sessionCookieFrom(seeded);
      const value = `updated-via-${slug(path.name)}`;
      const mark = store.mark();

      const { response, receivedAt } = await timed(send(path, value, cookie));

      expect(response.status).toBe(path.status);
      path.check?.(response);
      shouldHaveFinishedWritesBeforeResponse(store, mark, receivedAt);
      expect(store.writesSince(mark)[0]).toMatchObject({
        operation: 'update',
        key: storeKeyOf(cookie),
        patch: { set: { value }, unset: [] },
      });
      expect(setCookieFor(response)).toBeUndefined();
      await expect(readSession(cookie)).resolves.toEqual({ value });
    });
  });

  describe('an unchanged session', () => {
    it('costs an anonymous visitor no store call and no cookie', async () => {
      const mark = store.mark();

      const response = await request(app.getHttpServer()).get('/paths/read').expect(200);

      expect(response.body).toEqual({ data: {} });
      expect(store.callsSince(mark)).toEqual([]);
      expect(setCookieFor(response)).toBeUndefined();
    });

    it('is read once and neither written, touched nor re-sent', async () => {
      const cookie = sessionCookieFrom(await request(app.getHttpServer()).post('/paths/returned?v=kept').expect(201));
      const mark = store.mark();

      const response = await request(app.getHttpServer()).get('/paths/read').set('Cookie', cookie).expect(200);

      expect(response.body).toEqual({ data: { value: 'kept' } });
      expect(store.callsSince(mark).map((call) => call.operation)).toEqual(['get']);
      expect(setCookieFor(response)).toBeUndefined();
    });

    it('is not written when a handler assigns the value it already holds', async () => {
      const cookie = sessionCookieFrom(await request(app.getHttpServer()).post('/paths/returned?v=same').expect(201));
      const mark = store.mark();

      const response = await request(app.getHttpServer()).post('/paths/returned?v=same').set('Cookie', cookie).expect(201);

      expect(store.writesSince(mark)).toEqual([]);
      expect(setCookieFor(response)).toBeUndefined();
    });
  });

  describe('session.save() in the handler', () => {
    it('writes a new session once: the automatic commit does not write it again', async () => {
      const mark = store.mark();

      const { response, receivedAt } = await timed(request(app.getHttpServer()).post('/paths/save-explicitly?v=saved'));

      expect(response.status).toBe(201);
      shouldHaveFinishedWritesBeforeResponse(store, mark, receivedAt, 1);
      const cookie = sessionCookieFrom(response);
      await expect(readSession(cookie)).resolves.toEqual({ value: 'saved' });
    });

    it('writes an existing session once', async () => {
      const cookie = sessionCookieFrom(await request(app.getHttpServer()).post('/paths/returned?v=before').expect(201));
      const mark = store.mark();

      const { response, receivedAt } = await timed(
        request(app.getHttpServer()).post('/paths/save-explicitly?v=after').set('Cookie', cookie),
      );

      expect(response.status).toBe(201);
      shouldHaveFinishedWritesBeforeResponse(store, mark, receivedAt, 1);
      await expect(readSession(cookie)).resolves.toEqual({ value: 'after' });
    });

    it('still commits a change made after the explicit save (a second write, not a lost one)', async () => {
      const mark = store.mark();

      const { response, receivedAt } = await timed(request(app.getHttpServer()).post('/paths/save-then-change?v=twice'));

      expect(response.status).toBe(201);
      shouldHaveFinishedWritesBeforeResponse(store, mark, receivedAt, 2);
      await expect(readSession(sessionCookieFrom(response))).resolves.toEqual({ value: 'twice:second' });
    });
  });
});

describe('A guard rejection still commits the touch that extends a live session', () => {
  // idleTimeout 1 s gives a touch interval of 100 ms: a request after that must refresh the
  // session's last activity, even when a guard turns it away.
  const IDLE_TIMEOUT_MS = 1000;
  let app: INestApplication;
  let store: SlowStore;

  beforeAll(async () => {
    store = new SlowStore(STORE_DELAY_MS);
    app = await createApp({ store, idleTimeout: IDLE_TIMEOUT_MS });
  });

  afterAll(async () => {
    await app.close();
  });

  it('answers 403 for a missing role only after the touch reached the store', async () => {
    const login = await request(app.getHttpServer()).post('/paths/login').expect(201);
    const cookie = sessionCookieFrom(login);
    const before = await store.recordFor(cookie);
    expect(before?.data).toEqual({ user: { id: 'alice', roles: ['reader'] } });
    await sleep(150);
    const mark = store.mark();

    const { response, receivedAt } = await timed(
      request(app.getHttpServer()).get('/paths/admin').set('Cookie', cookie).set('Accept', 'application/json'),
    );

    expect(response.status).toBe(403);
    shouldHaveFinishedWritesBeforeResponse(store, mark, receivedAt, 1);
    expect(store.writesSince(mark)[0]).toMatchObject({ operation: 'touch', key: storeKeyOf(cookie) });
    const after = await store.recordFor(cookie);
    expect(after!.touchedAt).toBeGreaterThan(before!.touchedAt);
    expect(after!.expiresAt).toBeGreaterThan(before!.expiresAt);
    expect(after!.data).toEqual(before!.data);
  });
});

import {
  Body,
  Controller,
  Get,
  HttpCode,
  Post,
  Req,
  UseGuards,
  type DynamicModule,
  type INestApplication,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { App } from 'supertest/types';
import {
  MemoryStore,
  Session,
  SessionConfigError,
  SessionGuard,
  SessionModule,
  type SessionHandle,
  type SessionOptions,
} from '@app/session';
import {
  cookieValueOf,
  sessionCookieOf,
  setCookieHeadersOf,
  shouldExpireCookie,
  shouldNotSetCookie,
  shouldSetCookieWithAttribute,
} from '../support/cookies';
import { TEST_SECRET } from '../support/test-stores';
import { createTestApp } from '../support/http-platform';

type NotesSession = Session<{ note: string; blob: string }>;

@Controller()
class NotesController {
  @Post('note')
  @HttpCode(200)
  write(@Session() session: NotesSession, @Body() body: { note: string }): { note: string } {
    session.note = body.note;
    return { note: body.note };
  }

  @Get('note')
  read(@Session() session: NotesSession): { note: string | null } {
    return { note: session.note ?? null };
  }

  /** cookie-session style: `req.session = null` ends the session. */
  @Post('forget')
  @HttpCode(204)
  forget(@Req() req: { session?: SessionHandle | null }): void {
    req.session = null;
  }

  @Post('login')
  @HttpCode(200)
  async login(@Session() session: NotesSession, @Body() body: { username: string }): Promise<{ id: string }> {
    await session.login({ id: body.username });
    return { id: body.username };
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@Session() session: NotesSession): Promise<void> {
    await session.logout();
  }

  @Get('me')
  @UseGuards(SessionGuard)
  me(@Session() session: NotesSession): { id: string | number } {
    return { id: session.user!.id };
  }

  /** Writes 10 KB into the session: more than a browser keeps in one cookie. */
  @Post('big')
  @HttpCode(200)
  big(@Session() session: NotesSession): { ok: true } {
    session.blob = 'x'.repeat(10 * 1024);
    return { ok: true };
  }
}

async function boot(sessionModule: DynamicModule): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [sessionModule],
    controllers: [NotesController],
  }).compile();
  return createTestApp(moduleRef, { logger: false });
}

const OPTIONS: SessionOptions = { secret: TEST_SECRET, mode: 'cookie' };

const REGISTRATIONS: ReadonlyArray<readonly [string, () => DynamicModule]> = [
  ['forRoot', () => SessionModule.forRoot(OPTIONS)],
  ['forRootAsync', () => SessionModule.forRootAsync({ useFactory: () => Promise.resolve(OPTIONS) })],
];

describe.each(REGISTRATIONS)('client-side sessions (mode: cookie) registered with %s', (_label, register) => {
  let app: INestApplication;
  let server: App;

  beforeAll(async () => {
    app = await boot(register());
    server = app.getHttpServer() as App;
  });

  afterAll(async () => {
    await app.close();
  });

  async function writeNote(note: string, cookie?: string): Promise<string> {
    const call = request(server).post('/note').send({ note });
    const res = await (cookie === undefined ? call : call.set('Cookie', cookie)).expect(200);
    return sessionCookieOf(res);
  }

  async function signIn(username: string): Promise<string> {
    const res = await request(server).post('/login').send({ username }).expect(200);
    return sessionCookieOf(res);
  }

  it('a written value comes back in a sealed HttpOnly, SameSite=Lax, Path=/ cookie, and is read on the next request', async () => {
    const res = await request(server).post('/note').send({ note: 'remember the milk' }).expect(200);
    const cookie = sessionCookieOf(res);
    expect(cookieValueOf(cookie)).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cookieValueOf(cookie)).not.toContain('.');
    expect(cookieValueOf(cookie)).not.toContain('milk');
    shouldSetCookieWithAttribute(res, 'sid', 'HttpOnly');
    shouldSetCookieWithAttribute(res, 'sid', 'SameSite', 'Lax');
    shouldSetCookieWithAttribute(res, 'sid', 'Path', '/');

    const read = await request(server).get('/note').set('Cookie', cookie).expect(200);
    expect(read.body).toEqual({ note: 'remember the milk' });
    shouldNotSetCookie(read);
  });

  it('an anonymous read sets no cookie', async () => {
    const res = await request(server).get('/note').expect(200);
    expect(res.body).toEqual({ note: null });
    shouldNotSetCookie(res);
  });

  it('a tampered cookie reads as anonymous and is expired', async () => {
    const cookie = await writeNote('secret');
    const value = cookieValueOf(cookie);
    const tampered = `sid=${value.slice(0, 30)}${value[30] === 'A' ? 'B' : 'A'}${value.slice(31)}`;

    const res = await request(server).get('/note').set('Cookie', tampered).expect(200);
    expect(res.body).toEqual({ note: null });
    shouldExpireCookie(res);
  });

  it('`req.session = null` expires the cookie, and the next request with the old cookie is anonymous', async () => {
    const cookie = await writeNote('to be forgotten');

    const res = await request(server).post('/forget').set('Cookie', cookie).expect(204);
    shouldExpireCookie(res);

    const replay = await request(server).get('/note').set('Cookie', cookie).expect(200);
    expect(replay.body).toEqual({ note: null });
  });

  it('login issues a cookie that passes SessionGuard; anonymous requests get 401', async () => {
    const cookie = await signIn('alice');
    const me = await request(server).get('/me').set('Cookie', cookie).set('Accept', 'application/json').expect(200);
    expect(me.body).toEqual({ id: 'alice' });

    await request(server).get('/me').set('Accept', 'application/json').expect(401);
  });

  it('login rotates the session: the anonymous cookie from before no longer loads', async () => {
    const anonymous = await writeNote('before login');
    const res = await request(server).post('/login').set('Cookie', anonymous).send({ username: 'bob' }).expect(200);
    const signedIn = sessionCookieOf(res);
    expect(signedIn).not.toBe(anonymous);

    const replay = await request(server).get('/note').set('Cookie', anonymous).expect(200);
    expect(replay.body).toEqual({ note: null });
  });

  it('logout expires the cookie, and a replayed copy of it is refused by SessionGuard with 401', async () => {
    const cookie = await signIn('carol');

    const res = await request(server).post('/logout').set('Cookie', cookie).expect(204);
    shouldExpireCookie(res);

    await request(server).get('/me').set('Cookie', cookie).set('Accept', 'application/json').expect(401);
  });

  // Observed: 500. Outside production the body carries the library's SESSION_TOO_LARGE message
  // (naming the 4096-byte limit); in production it is the generic "Internal server error".
  it('writing 10 KB into the session fails with 500 naming the 4096-byte limit, and sends no Set-Cookie', async () => {
    const res = await request(server).post('/big');
    expect(res.status).toBeGreaterThanOrEqual(300);
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ statusCode: 500, error: 'Internal Server Error' });
    expect(String((res.body as { message?: unknown }).message)).toMatch(/^Session too large for a cookie: .*4096-byte browser limit/);
    expect(setCookieHeadersOf(res)).toEqual([]);
  });

  it('writing 10 KB with NODE_ENV=production fails with 500 and a generic body, and sends no Set-Cookie', async () => {
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      const res = await request(server).post('/big');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' });
      expect(setCookieHeadersOf(res)).toEqual([]);
    } finally {
      if (previous === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = previous;
    }
  });

  it('writing 10 KB into an existing session fails and leaves its cookie valid with the old data', async () => {
    const cookie = await writeNote('small');
    const res = await request(server).post('/big').set('Cookie', cookie);
    expect(res.status).toBe(500);
    expect(setCookieHeadersOf(res)).toEqual([]);

    const read = await request(server).get('/note').set('Cookie', cookie).expect(200);
    expect(read.body).toEqual({ note: 'small' });
  });
});

describe('client-side sessions: configuration', () => {
  it('forRoot({ mode: "cookie", store }) fails at boot with a SessionConfigError naming `store`', async () => {
    const error: unknown = await boot(
      SessionModule.forRoot({ secret: TEST_SECRET, mode: 'cookie', store: new MemoryStore() }),
    ).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(SessionConfigError);
    expect((error as SessionConfigError).problems).toEqual([expect.stringMatching(/^store: /)]);
    expect((error as SessionConfigError).message).toContain('revocationStore');
  });

  it('forRoot({ mode: "cookie", revocationStore }) boots (control)', async () => {
    const app = await boot(SessionModule.forRoot({ secret: TEST_SECRET, mode: 'cookie', revocationStore: new MemoryStore() }));
    try {
      const res = await request(app.getHttpServer() as App).post('/note').send({ note: 'ok' }).expect(200);
      sessionCookieOf(res);
    } finally {
      await app.close();
    }
  });
});

import { Controller, Get, HttpCode, Post, Query, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { MemoryStore, Session, SessionModule } from '@app/session';
import { expiresCookie, sessionCookieFrom, TEST_SECRET } from '../support/test-stores';
import { createTestApp } from '../support/http-platform';

/**
 * A request that changed the session while another request signed it out (logout in another
 * tab, "sign out everywhere", a revocation) must not answer as if its change had been saved: the
 * change is (rightly) not kept, so the answer is 409 with `code: 'SESSION_INTERRUPTED'`, and the
 * dead cookie is expired. Both modes, whether the change is committed with the response or saved
 * explicitly by the handler.
 */

type AppSession = Session<{ visits: number }>;

/** Lets a test hold a handler after it read the session, until the test opens the gate. */
class Gate {
  #open: () => void = () => undefined;
  #entered: () => void = () => undefined;
  readonly entered = new Promise<void>((resolve) => (this.#entered = resolve));
  readonly #opened = new Promise<void>((resolve) => (this.#open = resolve));

  async pass(): Promise<void> {
    this.#entered();
    await this.#opened;
  }

  open(): void {
    this.#open();
  }
}

let gate = new Gate();

@Controller()
class VisitsController {
  @Post('login')
  @HttpCode(200)
  async login(@Session() session: AppSession): Promise<{ ok: true }> {
    await session.login({ id: 'alice' });
    session.visits = 0;
    return { ok: true };
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@Session() session: AppSession): Promise<void> {
    await session.logout();
  }

  /** Counts a visit, after waiting at the gate (the session was loaded before). */
  @Post('visits')
  @HttpCode(200)
  async visit(@Session() session: AppSession, @Query('save') save?: string): Promise<{ visits: number }> {
    await gate.pass();
    session.visits = (session.visits ?? 0) + 1;
    if (save === '1') await session.save();
    return { visits: session.visits };
  }

  @Get('me')
  me(@Session() session: AppSession): { user: string | null; visits: number | null } {
    return { user: session.user ? String(session.user.id) : null, visits: session.visits ?? null };
  }
}

describe.each(['server', 'cookie'] as const)('A write racing a logout (%s mode)', (mode) => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: TEST_SECRET, mode, ...(mode === 'cookie' ? { revocationStore: new MemoryStore() } : { store: new MemoryStore() }) })],
      controllers: [VisitsController],
    }).compile();
    app = await createTestApp(moduleRef, { logger: false });
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    gate = new Gate();
  });

  const server = () => app.getHttpServer();

  it.each([
    ['committed with the response', ''],
    ['saved by the handler (session.save())', '?save=1'],
  ])('a change %s to a session signed out meanwhile answers 409 and expires the cookie', async (_label, query) => {
    const cookie = sessionCookieFrom(await request(server()).post('/login').expect(200));

    const slow = request(server()).post(`/visits${query}`).set('Cookie', cookie).then((response) => response);
    await gate.entered; // the slow request holds the session it loaded
    await request(server()).post('/logout').set('Cookie', cookie).expect(204);
    gate.open();

    const response = await slow;
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ statusCode: 409, code: 'SESSION_INTERRUPTED' });
    expect(response.body.message).toMatch(/signed out elsewhere/);
    expect(expiresCookie(response)).toBe(true);

    // Nothing was brought back: the old cookie is anonymous.
    await request(server()).get('/me').set('Cookie', cookie).expect(200, { user: null, visits: null });
  });

  it('a change to a live session is answered 200 and kept', async () => {
    const cookie = sessionCookieFrom(await request(server()).post('/login').expect(200));
    gate.open();
    const response = await request(server()).post('/visits').set('Cookie', cookie).expect(200, { visits: 1 });
    const next = mode === 'cookie' ? sessionCookieFrom(response) : cookie;
    await request(server()).get('/me').set('Cookie', next).expect(200, { user: 'alice', visits: 1 });
  });
});

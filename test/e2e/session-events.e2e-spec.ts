import { Controller, Get, HttpCode, Inject, Injectable, Post, type INestApplication, type OnModuleInit } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { App } from 'supertest/types';
import { Session, SessionEvents, SessionModule, SessionService, type SessionEvent, type SessionHandle } from '@app/session';
import { sessionCookieFrom, TEST_SECRET } from '../support/test-stores';
import { createTestApp } from '../support/http-platform';

/**
 * SessionEvents and SessionService injected from SessionModule into an application's own
 * providers, over HTTP: events reach a listener subscribed at init, a failing listener never
 * fails a request, and the device of the sign-in request is what the service lists.
 */

@Injectable()
class EventLog implements OnModuleInit {
  readonly seen: SessionEvent[] = [];
  failing = false;

  constructor(@Inject(SessionEvents) private readonly events: SessionEvents) {}

  onModuleInit(): void {
    for (const type of ['created', 'rotated', 'destroyed', 'revoked'] as const) {
      this.events.on(type, (event) => {
        this.seen.push(event);
        if (this.failing) throw new Error('audit log unavailable');
      });
    }
  }
}

@Controller()
class AccountController {
  constructor(@Inject(SessionService) private readonly sessions: SessionService) {}

  @Post('login')
  @HttpCode(204)
  async login(@Session() session: SessionHandle): Promise<void> {
    await session.login({ id: 'alice' });
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@Session() session: SessionHandle): Promise<void> {
    await session.logout();
  }

  @Get('sessions')
  list(@Session() session: SessionHandle) {
    return this.sessions.listForUser('alice', { current: session });
  }

  @Post('sign-out-everywhere')
  async everywhere(): Promise<{ revoked: number }> {
    return { revoked: await this.sessions.revokeAllForUser('alice') };
  }
}

describe.each(['server', 'cookie'] as const)('session events and SessionService in a Nest app (%s mode)', (mode) => {
  let app: INestApplication;
  let log: EventLog;
  let server: App;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: TEST_SECRET, mode })],
      controllers: [AccountController],
      providers: [EventLog],
    }).compile();
    app = await createTestApp(moduleRef, { logger: false });
    log = app.get(EventLog);
    server = app.getHttpServer() as App;
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    log.seen.length = 0;
    log.failing = false;
  });

  it('tells a listener of sign-in, sign-out and revocation, with the user and never the session id', async () => {
    const login = await request(server).post('/login').expect(204);
    const cookie = sessionCookieFrom(login);
    await request(server).post('/logout').set('Cookie', cookie).expect(204);
    const other = sessionCookieFrom(await request(server).post('/login').expect(204));
    expect((await request(server).post('/sign-out-everywhere').expect(201)).body).toEqual({ revoked: 1 });

    expect(log.seen.map((event) => [event.type, event.userId, 'reason' in event ? event.reason : undefined])).toEqual([
      ['rotated', 'alice', 'login'],
      ['created', 'alice', undefined],
      ['destroyed', 'alice', 'logout'],
      ['rotated', 'alice', 'login'],
      ['created', 'alice', undefined],
      ['revoked', 'alice', 'revoke-all'],
    ]);
    const serialized = JSON.stringify(log.seen);
    for (const pair of [cookie, other]) expect(serialized).not.toContain(decodeURIComponent(pair.slice(pair.indexOf('=') + 1)).split('.')[0]);
  });

  it('a listener that throws does not fail the request', async () => {
    log.failing = true;
    const login = await request(server).post('/login');
    expect(login.status).toBe(204);
    expect(log.seen.map((event) => event.type)).toEqual(['rotated', 'created']);
    await request(server).post('/logout').set('Cookie', sessionCookieFrom(login)).expect(204);
  });

  it('lists the session with the device that signed in: its address and User-Agent', async () => {
    await request(server).post('/sign-out-everywhere');
    const login = await request(server).post('/login').set('User-Agent', 'Device-Under-Test/1.0').expect(204);
    const list = await request(server).get('/sessions').set('Cookie', sessionCookieFrom(login)).expect(200);
    expect(list.body).toEqual([
      expect.objectContaining({ userId: 'alice', userAgent: 'Device-Under-Test/1.0', ip: expect.stringMatching(/127\.0\.0\.1|::1/), current: true }),
    ]);
  });
});

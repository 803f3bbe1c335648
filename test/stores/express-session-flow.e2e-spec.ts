import { Controller, Get, HttpCode, Module, Post, UseGuards, type DynamicModule, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { App } from 'supertest/types';
import { ExpressSessionStore, hashSessionId, Session, SessionGuard, SessionModule, type ExpressSessionCompatibleStore, type SessionOptions } from '@app/session';
import { createRequire } from 'node:module';
import { sessionCookieOf, setCookieOf } from '../support/cookies';
import { FOREIGN_STORES, type OpenedForeignStore } from '../support/express-session-stores';
import { createTestApp, HTTP_PLATFORM } from '../support/http-platform';
import { describeWithService } from '../support/services';
import { TEST_SECRET } from '../support/test-stores';

/*
 * A signed-in user's whole visit, on this run's platform, with the sessions in each
 * express-session store through ExpressSessionStore: login (a new id), a protected page, a
 * counter kept across requests, logout (the old cookie no longer works).
 */

type FlowSession = Session<{ user?: { id: string; roles: string[] }; visits?: number }>;

@Controller()
class FlowController {
  @Post('login')
  @HttpCode(204)
  async login(@Session() session: FlowSession): Promise<void> {
    await session.login({ id: 'alice', roles: ['user'] });
  }

  @Get('me')
  @UseGuards(SessionGuard)
  me(@Session() session: FlowSession): { id: string } {
    return { id: session.user!.id };
  }

  @Post('visits')
  @HttpCode(200)
  @UseGuards(SessionGuard)
  visits(@Session() session: FlowSession): { visits: number } {
    session.visits = (session.visits ?? 0) + 1;
    return { visits: session.visits };
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@Session() session: FlowSession): Promise<void> {
    await session.logout();
  }
}

function flowModule(options: SessionOptions): DynamicModule {
  @Module({})
  class FlowModule {}
  return { module: FlowModule, imports: [SessionModule.forRoot(options)], controllers: [FlowController] };
}

for (const subject of FOREIGN_STORES) {
  (subject.service ? describeWithService(subject.service) : describe)(`a visit with sessions in ${subject.name} (${HTTP_PLATFORM})`, () => {
    let opened: OpenedForeignStore;
    let app: INestApplication;

    beforeAll(async () => {
      opened = await subject.open();
      const moduleRef = await Test.createTestingModule({ imports: [flowModule({ secret: TEST_SECRET, name: 'sid', store: opened.store })] }).compile();
      app = await createTestApp(moduleRef, { logger: false });
    });

    afterAll(async () => {
      await app?.close();
      await opened?.cleanup();
    });

    it('signs in, keeps the session across requests, and signs out for good', async () => {
      const server = app.getHttpServer() as App;
      await request(server).get('/me').set('Accept', 'application/json').expect(401);
      const cookie = sessionCookieOf(await request(server).post('/login').expect(204));
      await request(server).get('/me').set('Cookie', cookie).expect(200, { id: 'alice' });
      for (const expected of [1, 2, 3]) {
        const res = await request(server).post('/visits').set('Cookie', cookie).expect(200);
        expect(res.body).toEqual({ visits: expected });
        expect(setCookieOf(res)).toBeUndefined(); // server-side: the id stays, nothing to resend
      }
      await request(server).post('/logout').set('Cookie', cookie).expect(204);
      await request(server).get('/me').set('Cookie', cookie).set('Accept', 'application/json').expect(401);
      await expect(opened.store.get(cookieKey(cookie))).resolves.toBeUndefined();
    });
  });
}

/** The store key of a session cookie (`sid=<id>.<signature>`): the SHA-256 of the id. */
function cookieKey(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  const id = value.slice(0, value.lastIndexOf('.'));
  return hashSessionId(id);
}

describe('a factory store built on express-session itself (not the shim)', () => {
  it('works the same through ExpressSessionStore', async () => {
    const load = createRequire(__filename);
    const MemoryStore = (load('memorystore') as (session: unknown) => new (options: object) => ExpressSessionCompatibleStore & { stopInterval(): void })(
      load('express-session'),
    );
    const inner = new MemoryStore({ checkPeriod: 60_000 });
    const store = new ExpressSessionStore(inner);
    const moduleRef = await Test.createTestingModule({ imports: [flowModule({ secret: TEST_SECRET, name: 'sid', store })] }).compile();
    const app = await createTestApp(moduleRef, { logger: false });
    try {
      const server = app.getHttpServer() as App;
      const cookie = sessionCookieOf(await request(server).post('/login').expect(204));
      await request(server).get('/me').set('Cookie', cookie).expect(200, { id: 'alice' });
    } finally {
      await app.close();
      inner.stopInterval();
    }
  });
});

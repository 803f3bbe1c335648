import { Controller, Get, Post, Redirect, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { App } from 'supertest/types';
import { Session, SessionModule, type SessionHandle } from '@app/session';
import { sessionCookieFrom, TEST_SECRET } from '../support/test-stores';
import { createTestApp } from '../support/http-platform';

/** Flash messages through a real Nest app: set, redirect, shown once on the page after it. */
@Controller()
class FlashController {
  @Post('login')
  @Redirect('/', 303)
  async login(@Session() session: SessionHandle): Promise<void> {
    await session.login({ id: 'alice' });
    session.flash('info', 'Signed in as alice');
  }

  @Get()
  home(@Session() session: SessionHandle): { flash: Record<string, string[]> } {
    return { flash: session.consumeFlash() };
  }
}

describe.each(['server', 'cookie'] as const)('flash messages across a redirect (%s mode)', (mode) => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [SessionModule.forRoot({ secret: TEST_SECRET, mode })],
      controllers: [FlashController],
    }).compile();
    app = await createTestApp(moduleRef, { logger: false });
  });

  afterAll(async () => {
    await app.close();
  });

  it('shows the message on the page the redirect leads to, and only there', async () => {
    const server = app.getHttpServer() as App;
    const login = await request(server).post('/login');
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('/');
    let cookie = sessionCookieFrom(login);

    const page = await request(server).get('/').set('Cookie', cookie);
    expect(page.body).toEqual({ flash: { info: ['Signed in as alice'] } });
    // Client-side mode re-seals the cookie without the message; a browser takes the new one.
    if (page.headers['set-cookie']) cookie = sessionCookieFrom(page);

    const again = await request(server).get('/').set('Cookie', cookie);
    expect(again.body).toEqual({ flash: {} });
  });
});

import { Controller, Get, HttpCode, Module, Post, Req, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import cookieSession from 'cookie-session';
import { BENCH_SECRET, BENCH_SESSION_MAX_AGE, BENCH_USER } from './bench-user';
import { PeerSessionGuard } from './peer-guard';

interface SessionRequest {
  session: { user?: typeof BENCH_USER; visits?: number };
}

/** cookie-session (signed, not encrypted) behind the same routes. */
@Controller()
class CookieSessionController {
  @Get('public')
  public(): { ok: true } {
    return { ok: true };
  }

  @Post('login')
  @HttpCode(200)
  login(@Req() request: SessionRequest): { ok: true } {
    request.session.user = BENCH_USER;
    return { ok: true };
  }

  @Get('me')
  @UseGuards(PeerSessionGuard)
  me(@Req() request: SessionRequest): { user: unknown } {
    return { user: request.session.user };
  }

  @Post('visits')
  @HttpCode(200)
  visits(@Req() request: SessionRequest): { visits: number } {
    request.session.visits = (request.session.visits ?? 0) + 1;
    return { visits: request.session.visits };
  }
}

@Module({ controllers: [CookieSessionController] })
class CookieSessionModule {}

export async function createCookieSessionApp(): Promise<{ app: INestApplication; cleanup: () => Promise<void> }> {
  const app = await NestFactory.create(CookieSessionModule, { logger: false });
  app.use(cookieSession({ name: 'session', keys: [BENCH_SECRET], maxAge: BENCH_SESSION_MAX_AGE, httpOnly: true, sameSite: 'lax' }));
  return { app, cleanup: () => Promise.resolve() };
}

import { Controller, Get, HttpCode, Module, Post, Req, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getIronSession, type IronSession } from 'iron-session';
import { BENCH_SECRET, BENCH_SESSION_MAX_AGE, BENCH_USER } from './bench-user';
import { PeerSessionGuard } from './peer-guard';

interface BenchSessionData {
  user?: typeof BENCH_USER;
  visits?: number;
}
interface SessionRequest {
  session: IronSession<BenchSessionData>;
}

/** iron-session (sealed cookie), opened by a middleware so the guard and handlers read `req.session`. */
@Controller()
class IronSessionController {
  @Get('public')
  public(): { ok: true } {
    return { ok: true };
  }

  @Post('login')
  @HttpCode(200)
  async login(@Req() request: SessionRequest): Promise<{ ok: true }> {
    request.session.user = BENCH_USER;
    await request.session.save();
    return { ok: true };
  }

  @Get('me')
  @UseGuards(PeerSessionGuard)
  me(@Req() request: SessionRequest): { user: unknown } {
    return { user: request.session.user };
  }

  @Post('visits')
  @HttpCode(200)
  async visits(@Req() request: SessionRequest): Promise<{ visits: number }> {
    request.session.visits = (request.session.visits ?? 0) + 1;
    await request.session.save();
    return { visits: request.session.visits };
  }
}

@Module({ controllers: [IronSessionController] })
class IronSessionModule {}

export async function createIronSessionApp(): Promise<{ app: INestApplication; cleanup: () => Promise<void> }> {
  const app = await NestFactory.create(IronSessionModule, { logger: false });
  const options = {
    password: BENCH_SECRET,
    cookieName: 'iron',
    ttl: BENCH_SESSION_MAX_AGE / 1000,
    cookieOptions: { httpOnly: true, sameSite: 'lax' as const, secure: false },
  };
  app.use((request: IncomingMessage & { session?: unknown }, response: ServerResponse, next: (error?: unknown) => void) => {
    getIronSession<BenchSessionData>(request, response, options).then((session) => {
      request.session = session;
      next();
    }, next);
  });
  return { app, cleanup: () => Promise.resolve() };
}

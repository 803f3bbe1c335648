import { Controller, Get, HttpCode, Module, Post, Req, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { BENCH_SECRET, BENCH_SESSION_MAX_AGE, BENCH_USER } from './bench-user';
import { fastifySecureSession, FastifyPeerSessionGuard, type SecureSessionObject } from './fastify-peers';

interface SessionRequest {
  session: SecureSessionObject;
}

/** @fastify/secure-session (the session sealed in the cookie), as Nest's docs show it for Fastify. */
@Controller()
class SecureSessionController {
  @Get('public')
  public(): { ok: true } {
    return { ok: true };
  }

  @Post('login')
  @HttpCode(200)
  login(@Req() request: SessionRequest): { ok: true } {
    request.session.set('user', BENCH_USER);
    return { ok: true };
  }

  @Get('me')
  @UseGuards(FastifyPeerSessionGuard)
  me(@Req() request: SessionRequest): { user: unknown } {
    return { user: request.session.get('user') };
  }

  @Post('visits')
  @HttpCode(200)
  visits(@Req() request: SessionRequest): { visits: number } {
    const visits = ((request.session.get('visits') as number | undefined) ?? 0) + 1;
    request.session.set('visits', visits);
    return { visits };
  }
}

@Module({ controllers: [SecureSessionController] })
class SecureSessionModule {}

export async function createFastifySecureSessionApp(): Promise<{ app: INestApplication; cleanup: () => Promise<void> }> {
  const app = await NestFactory.create<NestFastifyApplication>(SecureSessionModule, new FastifyAdapter(), { logger: false });
  await app.register(fastifySecureSession, {
    secret: BENCH_SECRET,
    // A fixed salt: the key is derived once at boot, as the plugin's README shows.
    salt: 'bench-only-salt!',
    cookieName: 'sealed',
    expiry: BENCH_SESSION_MAX_AGE / 1000,
    cookie: { path: '/', httpOnly: true, sameSite: 'lax', secure: false },
  });
  return { app, cleanup: () => Promise.resolve() };
}

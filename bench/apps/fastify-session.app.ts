import { Controller, Get, HttpCode, Module, Post, Req, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import { BENCH_SECRET, BENCH_SESSION_MAX_AGE, BENCH_USER } from './bench-user';
import { fastifyCookie, fastifySession, FastifyPeerSessionGuard, type FastifySessionObject } from './fastify-peers';
import { openRedis, type Cleanup } from './services';

interface SessionRequest {
  session: FastifySessionObject;
}

/** @fastify/session (with @fastify/cookie) as its README shows it, behind the same routes. */
@Controller()
class FastifySessionController {
  @Get('public')
  public(): { ok: true } {
    return { ok: true };
  }

  @Post('login')
  @HttpCode(200)
  async login(@Req() request: SessionRequest): Promise<{ ok: true }> {
    // The documented fixation defence: a new id at login.
    await request.session.regenerate();
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

@Module({ controllers: [FastifySessionController] })
class FastifySessionModule {}

export async function createFastifySessionApp(kind: 'memory' | 'redis'): Promise<{ app: INestApplication; cleanup: Cleanup }> {
  let store: unknown;
  let cleanup: Cleanup = () => Promise.resolve();
  if (kind === 'redis') {
    const redis = await openRedis();
    store = new ConnectRedisStore({ client: redis.client, prefix: redis.prefix });
    cleanup = redis.cleanup;
  }
  const app = await NestFactory.create<NestFastifyApplication>(FastifySessionModule, new FastifyAdapter(), { logger: false });
  await app.register(fastifyCookie as never);
  await app.register(fastifySession, {
    secret: BENCH_SECRET,
    cookieName: 'sid',
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', secure: false, maxAge: BENCH_SESSION_MAX_AGE },
    ...(store ? { store } : {}),
  });
  return { app, cleanup };
}

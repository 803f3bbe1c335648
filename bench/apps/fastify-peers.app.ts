import { Controller, Get, HttpCode, Inject, Module, Post, Req, UseGuards, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import { BENCH_SECRET, BENCH_SESSION_MAX_AGE, BENCH_USER } from './bench-user';
import { fastifyCookie, FastifyPeerSessionGuard, fastifySecureSession, fastifySession, type FastifyPeerSession } from './fastify-peers';
import { openRedis, type Cleanup } from './services';

/** Whether login rotates the session id: @fastify/session's fixation defence; a sealed cookie has no id. */
const ROTATE_ID_AT_LOGIN = Symbol('ROTATE_ID_AT_LOGIN');

interface SessionRequest {
  session: FastifyPeerSession;
}

/** The bench routes on either Fastify session plugin, as their READMEs show them (`get` / `set`). */
@Controller()
class FastifyPeerController {
  constructor(@Inject(ROTATE_ID_AT_LOGIN) private readonly rotateIdAtLogin: boolean) {}

  @Get('public')
  public(): { ok: true } {
    return { ok: true };
  }

  @Post('login')
  @HttpCode(200)
  async login(@Req() request: SessionRequest): Promise<{ ok: true }> {
    if (this.rotateIdAtLogin) await request.session.regenerate?.();
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

async function createPeerApp(rotateIdAtLogin: boolean): Promise<NestFastifyApplication> {
  @Module({ controllers: [FastifyPeerController], providers: [{ provide: ROTATE_ID_AT_LOGIN, useValue: rotateIdAtLogin }] })
  class FastifyPeerModule {}
  return NestFactory.create<NestFastifyApplication>(FastifyPeerModule, new FastifyAdapter(), { logger: false });
}

/** @fastify/session with @fastify/cookie, on its MemoryStore or on connect-redis. */
export async function createFastifySessionApp(kind: 'memory' | 'redis'): Promise<{ app: INestApplication; cleanup: Cleanup }> {
  let store: unknown;
  let cleanup: Cleanup = () => Promise.resolve();
  if (kind === 'redis') {
    const redis = await openRedis();
    store = new ConnectRedisStore({ client: redis.client, prefix: redis.prefix });
    cleanup = redis.cleanup;
  }
  const app = await createPeerApp(true);
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

/** @fastify/secure-session (the session sealed in the cookie), as Nest's docs show it for Fastify. */
export async function createFastifySecureSessionApp(): Promise<{ app: INestApplication; cleanup: Cleanup }> {
  const app = await createPeerApp(false);
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

import { Controller, Get, HttpCode, Module, Post, Req, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import connectPgSimple from 'connect-pg-simple';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import session from 'express-session';
import { BENCH_SECRET, BENCH_SESSION_MAX_AGE, BENCH_USER } from './bench-user';
import { PeerSessionGuard } from './peer-guard';
import { openPostgres, openRedis, type Cleanup } from './services';

interface BenchSessionData {
  user?: typeof BENCH_USER;
  visits?: number;
}
interface SessionRequest {
  session: session.Session & BenchSessionData;
}

/** express-session as its README shows it, behind the same routes. */
@Controller()
class ExpressSessionController {
  @Get('public')
  public(): { ok: true } {
    return { ok: true };
  }

  @Post('login')
  @HttpCode(200)
  async login(@Req() request: SessionRequest): Promise<{ ok: true }> {
    // The documented fixation defence: a new id at login.
    await new Promise<void>((resolve, reject) => request.session.regenerate((error) => (error ? reject(error as Error) : resolve())));
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

@Module({ controllers: [ExpressSessionController] })
class ExpressSessionModule {}

export type ExpressSessionStoreKind = 'memory' | 'redis' | 'postgres';

export async function createExpressSessionApp(kind: ExpressSessionStoreKind): Promise<{ app: INestApplication; cleanup: Cleanup }> {
  let store: session.Store | undefined;
  let cleanup: Cleanup = () => Promise.resolve();
  if (kind === 'redis') {
    const redis = await openRedis();
    store = new ConnectRedisStore({ client: redis.client, prefix: redis.prefix });
    cleanup = redis.cleanup;
  } else if (kind === 'postgres') {
    const pg = openPostgres();
    const PgStore = connectPgSimple(session);
    const pgStore = new PgStore({ pool: pg.pool, tableName: pg.table, createTableIfMissing: true, pruneSessionInterval: false });
    store = pgStore;
    cleanup = async () => {
      pgStore.close();
      await pg.cleanup();
    };
  }
  const app = await NestFactory.create(ExpressSessionModule, { logger: false });
  app.use(
    session({
      secret: BENCH_SECRET,
      name: 'sid',
      resave: false,
      saveUninitialized: false,
      ...(store ? { store } : {}),
      cookie: { httpOnly: true, sameSite: 'lax', maxAge: BENCH_SESSION_MAX_AGE },
    }),
  );
  return { app, cleanup };
}

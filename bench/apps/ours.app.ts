import { Controller, Get, HttpCode, Module, Post, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import {
  MemoryStore,
  PostgresStore,
  RedisStore,
  Session,
  SessionGuard,
  SessionModule,
  type SessionHandle,
  type SessionOptions,
} from '../../libs/session/src';
import { BENCH_SECRET, BENCH_SESSION_MAX_AGE, BENCH_USER } from './bench-user';
import { httpAdapterFor, type BenchPlatform } from './platform';
import { openPostgres, openRedis, type Cleanup } from './services';

type BenchSession = SessionHandle & { user?: typeof BENCH_USER; visits?: number };

/** This library, used as the README shows: `@Session()`, `login()`, `SessionGuard`. */
@Controller()
class OursController {
  @Get('public')
  public(): { ok: true } {
    return { ok: true };
  }

  @Post('login')
  @HttpCode(200)
  async login(@Session() session: BenchSession): Promise<{ ok: true }> {
    await session.login(BENCH_USER);
    return { ok: true };
  }

  @Get('me')
  @UseGuards(SessionGuard)
  me(@Session() session: BenchSession): { user: unknown } {
    return { user: session.user };
  }

  @Post('visits')
  @HttpCode(200)
  visits(@Session() session: BenchSession): { visits: number } {
    session.visits = (session.visits ?? 0) + 1;
    return { visits: session.visits };
  }
}

export type OursStoreKind = 'memory' | 'redis' | 'redis-nocache' | 'postgres' | 'cookie';

export interface OursAppOptions {
  /** Memory store only: sessions written straight into the store before the app listens. */
  readonly prefill?: (store: MemoryStore) => Promise<void>;
  /** Memory store only. */
  readonly maxSessions?: number;
}

export async function createOursApp(
  kind: OursStoreKind,
  options: OursAppOptions = {},
  platform: BenchPlatform = 'express',
): Promise<{ app: INestApplication; cleanup: Cleanup; store?: MemoryStore }> {
  const base: SessionOptions = {
    secret: BENCH_SECRET,
    idleTimeout: BENCH_SESSION_MAX_AGE,
    cookie: { secure: false },
  };
  let sessionOptions: SessionOptions;
  let cleanup: Cleanup = () => Promise.resolve();
  let memoryStore: MemoryStore | undefined;
  switch (kind) {
    case 'memory':
      memoryStore = new MemoryStore({ maxSessions: options.maxSessions ?? 100_000 });
      if (options.prefill) await options.prefill(memoryStore);
      sessionOptions = { ...base, store: memoryStore };
      break;
    case 'redis':
    case 'redis-nocache': {
      const localCache = kind === 'redis';
      const redis = await openRedis({ tracking: localCache });
      sessionOptions = { ...base, store: new RedisStore({ client: redis.client, prefix: redis.prefix, localCache }) };
      cleanup = redis.cleanup;
      break;
    }
    case 'postgres': {
      const pg = openPostgres();
      const store = new PostgresStore({ pool: pg.pool, tableName: pg.table });
      await store.createTable();
      sessionOptions = { ...base, store };
      cleanup = pg.cleanup;
      break;
    }
    case 'cookie':
      sessionOptions = { ...base, mode: 'cookie' };
      break;
  }

  @Module({ imports: [SessionModule.forRoot(sessionOptions)], controllers: [OursController] })
  class OursModule {}

  const app = await NestFactory.create(OursModule, httpAdapterFor(platform), { logger: false });
  return { app, cleanup, store: memoryStore };
}

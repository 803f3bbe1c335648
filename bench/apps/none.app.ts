import { Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { BENCH_USER } from './bench-user';
import { httpAdapterFor, type BenchPlatform } from './platform';

let visits = 0;

/** The ceiling: the same routes with no session at all (`/me` answers a fixed user). */
@Controller()
class NoSessionController {
  @Get('public')
  public(): { ok: true } {
    return { ok: true };
  }

  @Post('login')
  @HttpCode(200)
  login(): { ok: true } {
    return { ok: true };
  }

  @Get('me')
  me(): { user: typeof BENCH_USER } {
    return { user: BENCH_USER };
  }

  @Post('visits')
  @HttpCode(200)
  visits(): { visits: number } {
    visits += 1;
    return { visits };
  }
}

@Module({ controllers: [NoSessionController] })
class NoSessionModule {}

export async function createNoSessionApp(platform: BenchPlatform = 'express'): Promise<{ app: INestApplication; cleanup: () => Promise<void> }> {
  const app = await NestFactory.create(NoSessionModule, httpAdapterFor(platform), { logger: false });
  return { app, cleanup: () => Promise.resolve() };
}

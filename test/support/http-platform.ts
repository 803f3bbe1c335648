import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { TestingModule } from '@nestjs/testing';

/** The Nest HTTP platforms the library supports. */
export type HttpPlatformName = 'express' | 'fastify';

/**
 * The platform this test run boots its apps on: `HTTP_PLATFORM=fastify npm test` runs the same
 * suites on Fastify (CI runs both); Express by default.
 */
export const HTTP_PLATFORM: HttpPlatformName = readPlatform(process.env.HTTP_PLATFORM);

function readPlatform(value: string | undefined): HttpPlatformName {
  if (value === undefined || value === '' || value === 'express') return 'express';
  if (value === 'fastify') return 'fastify';
  throw new Error(`HTTP_PLATFORM must be express or fastify (got "${value}")`);
}

/** Fastify options of test apps: what the example uses, so suites see the same parsing. */
export interface FastifyTestOptions {
  readonly trustProxy?: boolean;
}

/**
 * Creates the Nest application of a compiled testing module on `platform` (this run's by
 * default), initialised and ready for supertest (`app.getHttpServer()`).
 */
export async function createTestApp(
  moduleRef: TestingModule,
  options: NestApplicationOptions = {},
  platform: HttpPlatformName = HTTP_PLATFORM,
): Promise<INestApplication> {
  const app = createUninitialisedApp(moduleRef, options, platform);
  await initTestApp(app);
  return app;
}

/** The application, not initialised yet: for suites that configure it (middleware, body parsers) first. */
export function createUninitialisedApp(
  moduleRef: TestingModule,
  options: NestApplicationOptions = {},
  platform: HttpPlatformName = HTTP_PLATFORM,
  fastifyOptions: FastifyTestOptions = {},
): INestApplication {
  if (platform === 'express') return moduleRef.createNestApplication(options);
  return moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter({ trustProxy: fastifyOptions.trustProxy ?? false }), options);
}

/** `app.init()`, and on Fastify waiting until its server is ready to take requests. */
export async function initTestApp(app: INestApplication): Promise<void> {
  await app.init();
  if (isFastify(app)) await app.getHttpAdapter().getInstance().ready();
}

function isFastify(app: INestApplication): app is NestFastifyApplication {
  return app.getHttpAdapter().getType() === 'fastify';
}

import type { INestApplication } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../apps/example/src/app.module';
import { configureExampleApp, createExampleHttpAdapter } from '../../apps/example/src/app.setup';
import { loadExampleConfig, type ExampleConfig, type ExampleHttpConfig } from '../../apps/example/src/config/example-config';
import { HTTP_PLATFORM, initTestApp } from './http-platform';

/** Prefix of the tables and keys the example e2e suites create in real stores. */
export const EXAMPLE_TEST_NAME_PREFIX = 'example_e2e_';

/** Test-only secret (never used outside tests). */
export const TEST_SECRET = 'test-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

/**
 * Boots the real example app (same module, same body parsers and filters as `main.ts`) on an
 * ephemeral port-less HTTP server for supertest.
 */
export async function createExampleApp(overrides: ExampleConfigOverrides = {}): Promise<INestApplication> {
  const base = loadExampleConfig({
    // HTTP_PLATFORM picks Express or Fastify, as for the real app: CI runs the suites on both.
    HTTP_PLATFORM,
    SESSION_SECRET: TEST_SECRET,
    // SESSION_STORE (and the URLs) pick the store, as for the real app: the whole example suite
    // runs against each store (npm run test:example-stores). Names unique to this test process
    // keep runs apart; test/support/global-teardown.js drops them afterwards.
    SESSION_STORE: process.env.SESSION_STORE,
    REDIS_URL: process.env.REDIS_URL,
    DATABASE_URL: process.env.DATABASE_URL,
    MYSQL_URL: process.env.MYSQL_URL,
    MEMCACHED_URL: process.env.MEMCACHED_URL,
    SESSION_TABLE: `${EXAMPLE_TEST_NAME_PREFIX}${process.env.EXAMPLE_E2E_RUN ?? 'local'}_${process.pid}`,
    SESSION_KEY_PREFIX: `${EXAMPLE_TEST_NAME_PREFIX}${process.env.EXAMPLE_E2E_RUN ?? 'local'}_${process.pid}:`,
    // Suites log in hundreds of times from one address; the throttling suite sets its own limits.
    LOGIN_ATTEMPTS_PER_ACCOUNT: '1000000',
    LOGIN_ATTEMPTS_PER_CLIENT: '1000000',
  });
  const config: ExampleConfig = { ...base, ...overrides, http: { ...base.http, ...overrides.http } };
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forPlatform(config.http.platform)] })
    .overrideProvider(ConfigService)
    .useValue(exampleConfigService(config))
    .compile();
  const app = moduleRef.createNestApplication(createExampleHttpAdapter(config.http), { bodyParser: false, logger: false });
  configureExampleApp(app);
  await initTestApp(app);
  return app;
}

/** What a test changes in the example's configuration: whole sections, or single HTTP settings. */
export type ExampleConfigOverrides = Partial<Omit<ExampleConfig, 'http'>> & { readonly http?: Partial<ExampleHttpConfig> };

/**
 * The `ConfigService` the example reads, holding `config` (in place of the one `ConfigModule`
 * builds from this process's environment): tests configure each app they boot on its own.
 */
export function exampleConfigService(config: ExampleConfig): ConfigService<ExampleConfig, true> {
  return new ConfigService<ExampleConfig, true>(config);
}

import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../apps/example/src/app.module';
import { configureExampleApp } from '../../apps/example/src/app.setup';
import { loadExampleConfig, type ExampleConfig } from '../../apps/example/src/config/example-config';

/** Test-only secret (never used outside tests). */
export const TEST_SECRET = 'test-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

/**
 * Boots the real example app (same module, same body parsers and filters as `main.ts`) on an
 * ephemeral port-less HTTP server for supertest.
 */
export async function createExampleApp(overrides: Partial<ExampleConfig> = {}): Promise<INestApplication> {
  const config: ExampleConfig = {
    ...loadExampleConfig({ SESSION_SECRET: TEST_SECRET }),
    ...overrides,
  };
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(config)] }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: false });
  configureExampleApp(app, config);
  await app.init();
  return app;
}

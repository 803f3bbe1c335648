import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureExampleApp } from './app.setup';
import { loadExampleConfig } from './config/example-config';

async function bootstrap(): Promise<void> {
  const config = loadExampleConfig(process.env);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), { bodyParser: false });
  configureExampleApp(app, config);
  app.enableShutdownHooks();
  await app.listen(config.port);
  new Logger('Example').log(`Listening on http://localhost:${config.port} (demo users: alice, admin)`);
}

bootstrap().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

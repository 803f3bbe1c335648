import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureExampleApp } from './app.setup';
import type { ExampleConfig } from './config/example-config';

async function bootstrap(): Promise<void> {
  // abortOnError: false: a failure to start (a bad configuration, a store that cannot be
  // reached) exits with status 1 rather than through process.abort() and a core dump.
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false, abortOnError: false });
  configureExampleApp(app);
  app.enableShutdownHooks();
  const { port } = app.get<ConfigService<ExampleConfig, true>>(ConfigService).get('http', { infer: true });
  await app.listen(port);
  new Logger('Example').log(`Listening on http://localhost:${port} (demo users: alice, admin)`);
}

bootstrap().catch(() => {
  // Already logged: every step above runs in Nest's exception zone, which logs what fails
  // (with abortOnError: false it then hands the error here rather than aborting the process).
  process.exit(1);
});

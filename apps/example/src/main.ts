import { Logger, type INestApplication } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { existsSync } from 'node:fs';
import { AppModule } from './app.module';
import { configureExampleApp, createExampleHttpAdapter } from './app.setup';
import { ExampleConfigError, loadExampleConfig, type ExampleConfig } from './config/example-config';

async function bootstrap(): Promise<void> {
  // A .env file in the working directory, if any (variables already set win). Loaded here, not by
  // ConfigModule: the HTTP platform and its proxy trust are needed to create the server, before
  // Nest reads the configuration.
  if (existsSync('.env')) process.loadEnvFile('.env');
  // Checked before anything starts (ConfigModule checks the same variables again, for the modules).
  const { http } = loadExampleConfig(process.env);
  // abortOnError: false: a failure to start (a store that cannot be reached) exits with status 1
  // rather than through process.abort() and a core dump.
  const app: INestApplication = await NestFactory.create(AppModule.forPlatform(http.platform), createExampleHttpAdapter(http), { bodyParser: false, abortOnError: false });
  configureExampleApp(app);
  app.enableShutdownHooks();
  const { port, platform } = app.get<ConfigService<ExampleConfig, true>>(ConfigService).get('http', { infer: true });
  await app.listen(port);
  new Logger('Example').log(`Listening on http://localhost:${port} with ${platform} (demo users: alice, admin)`);
}

bootstrap().catch((error: unknown) => {
  // Nest logs what fails while it starts (every step above runs in its exception zone); a bad
  // environment is found before, and its list of problems is printed here.
  if (error instanceof ExampleConfigError) console.error(error.message);
  process.exit(1);
});

import { ConfigModule } from '@nestjs/config';
import { loadExampleConfig } from './example-config';

/**
 * The example's configuration, for every module: the environment (`main.ts` loads a `.env` file
 * into it first), checked once at boot by {@link loadExampleConfig}, which lists every problem at
 * once. Read it with `ConfigService<ExampleConfig, true>`: `config.get('store', { infer: true })`.
 */
export const ExampleConfigModule = ConfigModule.forRoot({
  isGlobal: true,
  cache: true,
  ignoreEnvFile: true,
  validate: loadExampleConfig,
});

// forRoot() validates as this file loads, before Nest awaits the module. Until then nothing
// handles a rejection, and Node would print it itself (a stack trace, not the list of problems).
// NestFactory.create still receives the error, and main.ts prints the list.
ExampleConfigModule.catch(() => undefined);

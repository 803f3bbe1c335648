import { ConfigService } from '@nestjs/config';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { ExampleConfig } from './config/example-config';
import { answerBodyParserErrors } from './body-parser-errors';

/** Body size limit for JSON and forms: a login needs a few hundred bytes. */
export const BODY_LIMIT = '16kb';

/**
 * Everything `main.ts` applies to the app, shared with the e2e tests so they test the real thing.
 * The app must be created with `{ bodyParser: false }`.
 */
export function configureExampleApp(app: NestExpressApplication): NestExpressApplication {
  const config = app.get<ConfigService<ExampleConfig, true>>(ConfigService);
  app.set('trust proxy', config.get('http', { infer: true }).trustProxy);
  app.disable('x-powered-by');
  app.useBodyParser('json', { limit: BODY_LIMIT, strict: true });
  // extended: false parses with node:querystring: no nested objects from `a[b]=c`.
  app.useBodyParser('urlencoded', { limit: BODY_LIMIT, extended: false, parameterLimit: 20 });
  app.use(answerBodyParserErrors);
  return app;
}

import type { NestExpressApplication } from '@nestjs/platform-express';
import type { ExampleHttpConfig } from '../config/example-config';
import { BODY_LIMIT_BYTES, FORM_FIELD_LIMIT } from './body-limits';
import { answerBodyParserErrors } from './express-body-errors';

/** The example on Express: proxy trust, body parsers with the example's limits, JSON 4xx for bad bodies. */
export function configureExpress(app: NestExpressApplication, http: ExampleHttpConfig): void {
  app.set('trust proxy', http.trustProxy);
  app.disable('x-powered-by');
  app.useBodyParser('json', { limit: BODY_LIMIT_BYTES, strict: true });
  // extended: false parses with node:querystring: no nested objects from `a[b]=c`.
  app.useBodyParser('urlencoded', { limit: BODY_LIMIT_BYTES, extended: false, parameterLimit: FORM_FIELD_LIMIT });
  app.use(answerBodyParserErrors);
}

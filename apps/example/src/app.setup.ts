import type { INestApplication } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { SessionIoAdapter } from '@app/session/socket.io';
import type { ExampleConfig, ExampleHttpConfig } from './config/example-config';
import { configureExpress } from './http/express-setup';
import { configureFastify, createFastifyAdapter } from './http/fastify-setup';

/** The HTTP adapter `HTTP_PLATFORM` names: Express (the default) or Fastify. */
export function createExampleHttpAdapter(http: ExampleHttpConfig): AbstractHttpAdapter {
  return http.platform === 'fastify' ? createFastifyAdapter(http) : new ExpressAdapter();
}

/**
 * Everything `main.ts` applies to the app, shared with the e2e tests so they test the real thing.
 * The app must be created with `{ bodyParser: false }` on the adapter {@link createExampleHttpAdapter} made.
 */
export function configureExampleApp<T extends INestApplication>(app: T): T {
  const http = app.get<ConfigService<ExampleConfig, true>>(ConfigService).get('http', { infer: true });
  if (app.getHttpAdapter().getType() === 'fastify') configureFastify(app as unknown as NestFastifyApplication);
  else configureExpress(app as unknown as NestExpressApplication, http);
  // socket.io with sessions: the handshake's cookie is the session, and sockets end with it.
  app.useWebSocketAdapter(new SessionIoAdapter(app));
  return app;
}

import { Inject, Module, type MiddlewareConsumer, type NestModule, type OnModuleDestroy } from '@nestjs/common';
import { SessionManager } from '../core/session-manager';
import { SessionEvents } from '../core/session-events';
import { SessionService } from '../core/session-service';
import type { SessionStore } from '../core/session-store';
import { SelectedHttpPlatform } from './http/selected-http-platform';
import { SESSION_HTTP_PLATFORM } from './http/session-http-platform';
import { SESSION_OPTIONS, SESSION_STORE } from './session.constants';
import { SessionMiddleware } from './session.middleware';
import { SessionStoreHealthIndicator } from './session-store.health';
import { SocketSessions } from './sockets/socket-sessions';
import { ConfigurableSessionModule } from './session.module-definition';
import { sessionProviders } from './session.providers';

/**
 * Server-side sessions for Nest. Register once in the application module:
 *
 * @example
 * \@Module({ imports: [SessionModule.forRoot({ secret: process.env.SESSION_SECRET! })] })
 * export class AppModule {}
 *
 * or with `forRootAsync({ imports, inject, useFactory })` to read configuration. Options are
 * validated at boot; the module mounts its own middleware, so `main.ts` needs nothing.
 */
@Module({
  providers: [...sessionProviders, SessionMiddleware, SessionStoreHealthIndicator, SocketSessions],
  // The HTTP platform too: applications may apply SessionMiddleware in their own modules.
  exports: [SESSION_OPTIONS, SESSION_STORE, SESSION_HTTP_PLATFORM, SessionManager, SessionService, SessionEvents, SessionStoreHealthIndicator, SocketSessions],
})
export class SessionModule extends ConfigurableSessionModule implements NestModule, OnModuleDestroy {
  constructor(
    @Inject(SESSION_STORE) private readonly store: SessionStore,
    private readonly platform: SelectedHttpPlatform,
    private readonly middleware: SessionMiddleware,
  ) {
    super();
  }

  /**
   * Hooks the application's HTTP platform: on Express, the session middleware on every route; on
   * Fastify, the same loader in an `onRequest` hook (no per-request trip through Nest's
   * middleware layer and @fastify/middie).
   */
  configure(consumer: MiddlewareConsumer): void {
    const loadsItself = this.platform.select((request, response, next) => this.middleware.use(request, response, next));
    if (!loadsItself) consumer.apply(SessionMiddleware).forRoutes('{*splat}');
  }

  /**
   * Calls the store's `close()`, which by contract releases only what the store created itself
   * (a cleanup timer); the clients an application passed to a store stay the application's.
   */
  async onModuleDestroy(): Promise<void> {
    await this.store.close?.();
  }
}

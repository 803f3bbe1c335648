import { Inject, Module, type MiddlewareConsumer, type NestModule, type OnModuleDestroy } from '@nestjs/common';
import { SessionManager } from '../core/session-manager';
import type { SessionStore } from '../core/session-store';
import { SESSION_OPTIONS, SESSION_STORE } from './session.constants';
import { SessionMiddleware } from './session.middleware';
import { ConfigurableSessionModule } from './session.module-definition';
import { OWNED_STORE, sessionProviders } from './session.providers';

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
  providers: [...sessionProviders, SessionMiddleware],
  exports: [SESSION_OPTIONS, SESSION_STORE, SessionManager],
})
export class SessionModule extends ConfigurableSessionModule implements NestModule, OnModuleDestroy {
  constructor(@Inject(SESSION_STORE) private readonly store: SessionStore & { [OWNED_STORE]?: true }) {
    super();
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(SessionMiddleware).forRoutes('{*splat}');
  }

  /** Closes the store only if the module created it; a store the application passed stays the application's. */
  async onModuleDestroy(): Promise<void> {
    if (this.store[OWNED_STORE]) await this.store.close?.();
  }
}

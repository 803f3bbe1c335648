import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { SessionModule, type SessionOptions } from '@app/session';
import { AccountSessionsController } from './account/account-sessions.controller';
import { AuthModule } from './auth/auth.module';
import type { ExampleConfig } from './config/example-config';
import { EXAMPLE_CONFIG, ExampleConfigModule } from './config/example-config.module';
import type { ExampleStore } from './store/example-store';
import { EXAMPLE_STORE, ExampleStoreModule } from './store/example-store.module';
import { HealthController } from './health/health.controller';
import { PagesController } from './pages/pages.controller';
import { VisitsController } from './visits/visits.controller';

/** Session options of the example, derived from its configuration and the opened store. */
export function exampleSessionOptions(config: ExampleConfig, opened: ExampleStore): SessionOptions {
  return {
    // SESSION_STORE=cookie: client-side sessions; the opened store is then the revocation list.
    ...(config.store.mode === 'cookie' ? { mode: 'cookie' as const, revocationStore: opened.store } : { store: opened.store }),
    secret: config.sessionSecrets,
    // The __Host- prefix makes browsers refuse the cookie unless Secure, host-only and Path=/.
    name: config.production ? '__Host-sid' : 'sid',
    cookie: { secure: config.production ? true : 'auto' },
    trustProxy: config.trustProxy,
    loginPath: '/login',
    // Cross-site form posts (to /login, /logout, /visits) are refused with 403.
    csrf: true,
  };
}

/** The example application. */
@Module({})
export class AppModule {
  static register(config: ExampleConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ExampleConfigModule.register(config),
        ExampleStoreModule.register(config.store),
        SessionModule.forRootAsync({
          inject: [EXAMPLE_CONFIG, EXAMPLE_STORE],
          useFactory: exampleSessionOptions,
        }),
        AuthModule.register(config.loginThrottle),
        TerminusModule,
      ],
      controllers: [PagesController, VisitsController, HealthController, AccountSessionsController],
    };
  }
}

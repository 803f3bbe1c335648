import { Module, type DynamicModule } from '@nestjs/common';
import { SessionModule, type SessionOptions } from '@app/session';
import { AccountModule } from './account/account.module';
import { AuthModule } from './auth/auth.module';
import type { ExampleConfig } from './config/example-config';
import { EXAMPLE_CONFIG, ExampleConfigModule } from './config/example-config.module';
import type { ExampleStore } from './store/example-store';
import { EXAMPLE_STORE, ExampleStoreModule } from './store/example-store.module';
import { HealthModule } from './health/health.module';
import { PagesModule } from './pages/pages.module';
import { VisitsModule } from './visits/visits.module';

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

/** The example application: one module per feature, the session module global. */
@Module({})
export class AppModule {
  static register(config: ExampleConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ExampleConfigModule.register(config),
        ExampleStoreModule.register(config.store),
        // Global: every feature module's controllers get SessionService and the health indicator.
        SessionModule.forRootAsync({
          isGlobal: true,
          inject: [EXAMPLE_CONFIG, EXAMPLE_STORE],
          useFactory: exampleSessionOptions,
        }),
        AuthModule.register(config.loginThrottle),
        PagesModule,
        VisitsModule,
        AccountModule,
        HealthModule,
      ],
    };
  }
}

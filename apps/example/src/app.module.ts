import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SessionModule, type SessionOptions } from '@app/session';
import { AccountModule } from './account/account.module';
import { AuthModule } from './auth/auth.module';
import type { ExampleConfig, ExampleHttpPlatform } from './config/example-config';
import { ExampleConfigModule } from './config/example-config.module';
import type { ExampleStore } from './store/example-store';
import { EXAMPLE_STORE, ExampleStoreModule } from './store/example-store.module';
import { ExampleGraphqlModule } from './graphql/example-graphql.module';
import { HealthModule } from './health/health.module';
import { LiveModule } from './live/live.module';
import { PagesModule } from './pages/pages.module';
import { VisitsModule } from './visits/visits.module';

/** Session options of the example, derived from its configuration and the opened store. */
export function exampleSessionOptions(config: ConfigService<ExampleConfig, true>, opened: ExampleStore): SessionOptions {
  const { secrets, production } = config.get('session', { infer: true });
  return {
    // SESSION_STORE=cookie: client-side sessions; the opened store is then the revocation list.
    ...(config.get('store', { infer: true }).mode === 'cookie' ? { mode: 'cookie' as const, revocationStore: opened.store } : { store: opened.store }),
    secret: secrets,
    // The __Host- prefix makes browsers refuse the cookie unless Secure, host-only and Path=/.
    name: production ? '__Host-sid' : 'sid',
    cookie: { secure: production ? true : 'auto' },
    trustProxy: config.get('http', { infer: true }).trustProxy,
    loginPath: '/login',
    // Cross-site form posts (to /login, /logout, /visits) and GraphQL mutations are refused with 403.
    csrf: true,
    // On Redis, a session ended on one instance closes the sockets every instance holds for it.
    ...(opened.broadcast ? { sockets: { broadcast: opened.broadcast } } : {}),
  };
}

/** The example application: one module per feature, the configuration and the session module global. */
@Module({
  imports: [
    ExampleConfigModule,
    ExampleStoreModule,
    // Global: every feature module's controllers get SessionService and the health indicator.
    SessionModule.forRootAsync({
      isGlobal: true,
      inject: [ConfigService, EXAMPLE_STORE],
      useFactory: exampleSessionOptions,
    }),
    AuthModule,
    PagesModule,
    VisitsModule,
    AccountModule,
    HealthModule,
    LiveModule,
  ],
})
export class AppModule {
  /**
   * The application on its HTTP platform: GraphQL's driver follows it (Apollo on Express,
   * Mercurius on Fastify), and Nest fixes a driver when the module is declared.
   */
  static forPlatform(platform: ExampleHttpPlatform): DynamicModule {
    return { module: AppModule, imports: [ExampleGraphqlModule.forPlatform(platform)] };
  }
}

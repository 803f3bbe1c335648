import { Module, type DynamicModule } from '@nestjs/common';
import { SessionModule, type SessionOptions } from '@app/session';
import { AuthModule } from './auth/auth.module';
import type { ExampleConfig } from './config/example-config';
import { EXAMPLE_CONFIG, ExampleConfigModule } from './config/example-config.module';
import { PagesController } from './pages/pages.controller';
import { VisitsController } from './visits/visits.controller';

/** Session options of the example, derived from its configuration. */
export function exampleSessionOptions(config: ExampleConfig): SessionOptions {
  return {
    secret: config.sessionSecrets,
    // The __Host- prefix makes browsers refuse the cookie unless Secure, host-only and Path=/.
    name: config.production ? '__Host-sid' : 'sid',
    cookie: { secure: config.production ? true : 'auto' },
    trustProxy: config.trustProxy,
    loginPath: '/login',
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
        SessionModule.forRootAsync({
          inject: [EXAMPLE_CONFIG],
          useFactory: exampleSessionOptions,
        }),
        AuthModule,
      ],
      controllers: [PagesController, VisitsController],
    };
  }
}

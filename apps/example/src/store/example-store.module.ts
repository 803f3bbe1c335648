import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { ExampleConfig } from '../config/example-config';
import { openExampleStore, type ExampleStore } from './example-store';

/** Injection token of the {@link ExampleStore}. */
export const EXAMPLE_STORE = Symbol('EXAMPLE_STORE');

/** Opens the configured session store at boot and closes its clients at shutdown. */
@Global()
@Module({
  providers: [
    {
      provide: EXAMPLE_STORE,
      inject: [ConfigService],
      useFactory: (config: ConfigService<ExampleConfig, true>) => openExampleStore(config.get('store', { infer: true }), new Logger('SessionStore')),
    },
  ],
  exports: [EXAMPLE_STORE],
})
export class ExampleStoreModule implements OnApplicationShutdown {
  constructor(@Inject(EXAMPLE_STORE) private readonly opened: ExampleStore) {}

  /** After SessionModule stopped the store (onModuleDestroy), close the clients. */
  async onApplicationShutdown(): Promise<void> {
    await this.opened.close();
  }
}

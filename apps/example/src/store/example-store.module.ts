import { Global, Inject, Logger, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { ExampleStoreConfig } from '../config/example-config';
import { openExampleStore, type ExampleStore } from './example-store';

/** Injection token of the {@link ExampleStore}. */
export const EXAMPLE_STORE = Symbol('EXAMPLE_STORE');

/** Opens the configured session store at boot and closes its clients at shutdown. */
@Global()
@Module({})
export class ExampleStoreModule implements OnApplicationShutdown {
  constructor(@Inject(EXAMPLE_STORE) private readonly opened: ExampleStore) {}

  static register(config: ExampleStoreConfig): DynamicModule {
    return {
      module: ExampleStoreModule,
      providers: [{ provide: EXAMPLE_STORE, useFactory: () => openExampleStore(config, new Logger('SessionStore')) }],
      exports: [EXAMPLE_STORE],
    };
  }

  /** After SessionModule stopped the store (onModuleDestroy), close the clients. */
  async onApplicationShutdown(): Promise<void> {
    await this.opened.close();
  }
}

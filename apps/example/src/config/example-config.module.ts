import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { ExampleConfig } from './example-config';

/** Injection token of the {@link ExampleConfig}. */
export const EXAMPLE_CONFIG = Symbol('EXAMPLE_CONFIG');

/** Provides the example's configuration to every module. */
@Global()
@Module({})
export class ExampleConfigModule {
  static register(config: ExampleConfig): DynamicModule {
    return {
      module: ExampleConfigModule,
      providers: [{ provide: EXAMPLE_CONFIG, useValue: config }],
      exports: [EXAMPLE_CONFIG],
    };
  }
}

import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { SessionModuleInput } from './session-module-options';

/** Extras of `forRoot` / `forRootAsync` beyond the session options themselves. */
export interface SessionModuleExtras {
  /** Register the module globally, so its providers can be injected in every module. @default false */
  isGlobal: boolean;
}

export const {
  ConfigurableModuleClass: ConfigurableSessionModule,
  MODULE_OPTIONS_TOKEN: SESSION_MODULE_OPTIONS,
  OPTIONS_TYPE: SESSION_MODULE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: SESSION_MODULE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<SessionModuleInput>({ moduleName: 'Session' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createSessionOptions')
  .setExtras<SessionModuleExtras>({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();

/** Argument of `SessionModule.forRoot()`: the session options, the module settings, and `isGlobal`. */
export type SessionModuleOptions = typeof SESSION_MODULE_OPTIONS_TYPE;
/** Argument of `SessionModule.forRootAsync()`. */
export type SessionModuleAsyncOptions = typeof SESSION_MODULE_ASYNC_OPTIONS_TYPE;

import { Logger, type Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, HttpAdapterHost, Reflector } from '@nestjs/core';
import { SessionConfigError, SessionInterruptedError } from '../core/errors';
import type { ResolvedSessionOptions } from '../core/session-options';
import { SessionManager } from '../core/session-manager';
import { SessionEvents } from '../core/session-events';
import { SessionService } from '../core/session-service';
import type { SessionStore } from '../core/session-store';
import { MemoryStore } from '../stores/memory.store';
import { CrossSiteRequestGuard } from './cross-site-request.guard';
import { SelectedHttpPlatform } from './http/selected-http-platform';
import { SESSION_HTTP_PLATFORM, type SessionHttpPlatform } from './http/session-http-platform';
import { LoginRedirectFilter } from './login-redirect.filter';
import { SessionStoreErrorFilter } from './session-store-error.filter';
import { SESSION_OPTIONS, SESSION_STORE } from './session.constants';
import { SessionInterruptedException, SessionStoreUnavailableException } from './session.exceptions';
import { SessionGuard } from './session.guard';
import { resolveSessionModuleOptions, type ResolvedSessionModuleOptions, type SessionModuleInput } from './session-module-options';
import { SESSION_MODULE_OPTIONS } from './session.module-definition';

/**
 * The module's providers, all derived from what the user passed: options resolved and validated
 * once at boot (for `forRoot` and `forRootAsync` alike), then the store, then the manager.
 */
const discardLogger = new Logger('SessionModule');

export const sessionProviders: Provider[] = [
  // The HTTP platform (Express or Fastify), chosen at boot from Nest's HTTP adapter.
  SelectedHttpPlatform,
  { provide: SESSION_HTTP_PLATFORM, useExisting: SelectedHttpPlatform },
  {
    provide: SESSION_OPTIONS,
    useFactory: (options: (SessionModuleInput & { isGlobal?: boolean }) | null | undefined): ResolvedSessionModuleOptions => {
      // A forRootAsync factory may return anything: refuse non-objects with the usual error.
      if (options === null || typeof options !== 'object' || Array.isArray(options)) {
        throw new SessionConfigError(['options: the forRootAsync factory must return an object with at least `secret`']);
      }
      // `isGlobal` is the builder's extra; it is not a session option.
      const { isGlobal: _isGlobal, ...sessionOptions } = options;
      return resolveSessionModuleOptions(sessionOptions);
    },
    inject: [SESSION_MODULE_OPTIONS],
  },
  {
    provide: SESSION_STORE,
    // Server-side: where sessions live. Client-side: the revocation list.
    useFactory: (options: ResolvedSessionOptions): SessionStore => {
      const configured = options.mode === 'cookie' ? options.revocationStore : options.store;
      if (configured) return configured;
      const logger = new Logger('SessionModule');
      return new MemoryStore({ warn: (message) => logger.warn(message) });
    },
    inject: [SESSION_OPTIONS],
  },
  {
    provide: SessionEvents,
    useFactory: () =>
      new SessionEvents((error, event) =>
        discardLogger.error(`A session '${event.type}' listener failed: ${error instanceof Error ? error.message : String(error)}`),
      ),
  },
  {
    provide: SessionManager,
    useFactory: (options: ResolvedSessionOptions, store: SessionStore, events: SessionEvents) =>
      new SessionManager(options, {
        store,
        events,
        onDiscardedCookie: (reason) => discardLogger.debug(`Session cookie discarded: ${reason}; a fresh session was started`),
        // An HttpException, so a 503 (or 409) reaches the client even through an app-wide
        // catch-all filter.
        toHandlerError: (error) =>
          error instanceof SessionInterruptedError ? new SessionInterruptedException(error) : new SessionStoreUnavailableException(error),
      }),
    inject: [SESSION_OPTIONS, SESSION_STORE, SessionEvents],
  },
  {
    provide: SessionService,
    useFactory: (manager: SessionManager) => new SessionService(manager),
    inject: [SessionManager],
  },
  {
    // Registered before the session guard, so a forged cross-site request is refused before
    // anything else looks at it. A pass-through when the csrf option is off.
    provide: APP_GUARD,
    useFactory: (options: ResolvedSessionModuleOptions, reflector: Reflector, platform: SessionHttpPlatform) =>
      options.csrf === false ? { canActivate: () => true } : new CrossSiteRequestGuard(reflector, options, platform),
    inject: [SESSION_OPTIONS, Reflector, SESSION_HTTP_PLATFORM],
  },
  {
    // With guard: 'none' this is a pass-through, so the provider set is the same for forRoot and
    // forRootAsync (whose options are only known at boot).
    provide: APP_GUARD,
    useFactory: (options: ResolvedSessionModuleOptions, reflector: Reflector) =>
      options.guard === 'global' ? new SessionGuard(reflector) : { canActivate: () => true },
    inject: [SESSION_OPTIONS, Reflector],
  },
  {
    provide: APP_FILTER,
    useFactory: (adapterHost: HttpAdapterHost) => new LoginRedirectFilter(adapterHost),
    inject: [HttpAdapterHost],
  },
  {
    provide: APP_FILTER,
    useFactory: (adapterHost: HttpAdapterHost) => new SessionStoreErrorFilter(adapterHost),
    inject: [HttpAdapterHost],
  },
];

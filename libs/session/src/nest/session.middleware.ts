import { Inject, Injectable, Logger, type NestMiddleware } from '@nestjs/common';
import { SessionStoreError } from '../core/errors';
import { SessionManager } from '../core/session-manager';
import type { SessionBinding } from './http/request-binding';
import { SESSION_HTTP_PLATFORM, type SessionHttpPlatform } from './http/session-http-platform';
import { SESSION_OPTIONS } from './session.constants';
import type { ResolvedSessionModuleOptions } from './session-module-options';
import { SessionStoreUnavailableException } from './session.exceptions';

/**
 * Loads the session before guards run and makes the response wait for its commit. Mounted by
 * `SessionModule` on every route; applications add nothing to `main.ts`. What it does with the
 * request and the response goes through the module's HTTP platform.
 */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  private readonly logger = new Logger('SessionModule');
  /** One binding for every request: the manager and the settings the guard reads. */
  private readonly binding: SessionBinding;

  constructor(
    @Inject(SessionManager) private readonly manager: SessionManager,
    @Inject(SESSION_HTTP_PLATFORM) private readonly platform: SessionHttpPlatform,
    @Inject(SESSION_OPTIONS) options: ResolvedSessionModuleOptions,
  ) {
    this.binding = { manager, loginPath: options.loginPath };
  }

  async use(request: unknown, response: unknown, next: () => void): Promise<void> {
    const { platform, manager } = this;
    if (platform.isAttached(request)) return next(); // mounted twice (nested modules): load once
    let session;
    try {
      session = await manager.load(platform.sessionRequest(request, manager.options.trustProxy));
    } catch (error) {
      if (error instanceof SessionStoreError) {
        this.logger.error(`Session load failed: ${error.message}`);
        throw new SessionStoreUnavailableException(error);
      }
      throw error;
    }
    platform.attach(request, session, this.binding);
    platform.commitBeforeResponse(response, session, manager, this.logger);
    next();
  }
}

import { Inject, Injectable, Logger, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { SessionStoreError } from '../core/errors';
import { isSecureRequest } from '../core/request-security';
import { SessionManager } from '../core/session-manager';
import { commitBeforeResponse } from './commit-before-response';
import { SessionStoreUnavailableException } from './session.exceptions';
import { attachSession, sessionManagerOf, type SessionAwareRequest } from './session-request';

/**
 * Loads the session before guards run and makes the response wait for its commit. Mounted by
 * `SessionModule` on every route; applications add nothing to `main.ts`.
 */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  private readonly logger = new Logger('SessionModule');

  constructor(@Inject(SessionManager) private readonly manager: SessionManager) {}

  async use(request: IncomingMessage & SessionAwareRequest, response: ServerResponse, next: () => void): Promise<void> {
    if (sessionManagerOf(request)) return next(); // mounted twice (nested modules): load once
    let session;
    try {
      session = await this.manager.load({
        cookieHeader: request.headers.cookie,
        secure: isSecureRequest({
          encrypted: (request.socket as TLSSocket).encrypted === true,
          forwardedProto: request.headers['x-forwarded-proto'],
          trustProxy: this.manager.options.trustProxy,
        }),
        // Read only when a user signs in. Express's req.ip follows the app's 'trust proxy' setting.
        device: () => ({
          ip: (request as { ip?: string }).ip ?? request.socket.remoteAddress,
          userAgent: request.headers['user-agent'],
        }),
      });
    } catch (error) {
      if (error instanceof SessionStoreError) {
        this.logger.error(`Session load failed: ${error.message}`);
        throw new SessionStoreUnavailableException(error);
      }
      throw error;
    }
    attachSession(request, session, this.manager);
    commitBeforeResponse(response, session, this.manager, this.logger);
    next();
  }
}

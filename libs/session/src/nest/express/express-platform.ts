import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionRequest } from '../../core/session-request';
import { isSecureNodeRequest } from '../http/node-request';
import { bindSession, sessionBindingOf, type SessionAwareRequest } from '../http/request-binding';
import type { SessionHttpPlatform } from '../http/session-http-platform';
import { commitBeforeResponse } from './commit-before-response';
import { defineSessionProperty } from './session-accessor';

/** An Express request: Node's, with Express's `ip` (which follows the app's 'trust proxy'). */
type ExpressRequest = IncomingMessage & SessionAwareRequest & { ip?: string };

/**
 * Nest on Express (`@nestjs/platform-express`): requests and responses are Node's own objects,
 * extended by Express. `req.session` is an accessor on Express's per-application request
 * prototype; the commit runs in hooks on `writeHead` and `end` (see commit-before-response).
 */
export const expressPlatform: SessionHttpPlatform = {
  sessionRequest(request: unknown, trustProxy: boolean): SessionRequest {
    const incoming = request as ExpressRequest;
    return {
      cookieHeader: incoming.headers.cookie,
      secure: expressPlatform.isSecure(incoming, trustProxy),
      // Read only when a user signs in. Express's req.ip follows the app's 'trust proxy' setting.
      device: () => ({ ip: incoming.ip ?? incoming.socket.remoteAddress, userAgent: incoming.headers['user-agent'] }),
    };
  },

  isSecure(request: unknown, trustProxy: boolean): boolean {
    return isSecureNodeRequest(request as IncomingMessage, trustProxy);
  },

  isAttached(request: unknown): boolean {
    return sessionBindingOf(request as ExpressRequest) !== undefined;
  },

  attach(request, session, binding): void {
    bindSession(request as ExpressRequest, binding);
    defineSessionProperty(request as ExpressRequest, session);
  },

  commitBeforeResponse(response, session, manager, logger): void {
    commitBeforeResponse(response as ServerResponse, session, manager, logger);
  },
};

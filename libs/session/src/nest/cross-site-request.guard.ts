import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { isCrossSiteRequest } from '../core/cross-site-request';
import { requireHandlerSession, sessionHandlerContext, type HandlerRequest } from './handler-context';
import type { ResolvedSessionModuleSettings } from './session-module-options';
import type { SessionHttpPlatform } from './http/session-http-platform';
import { ALLOW_CROSS_SITE } from './session.constants';
import { CrossSiteRequestException } from './session.exceptions';

/**
 * Refuses, with 403, unsafe requests that the browser says another site sent (cross-site request
 * forgery). Registered globally by `SessionModule` when the `csrf` option is on; `@AllowCrossSite()`
 * opts a route out. The decision itself is `isCrossSiteRequest` in core.
 *
 * GraphQL: a mutation changes state whatever method carried it, so it is judged as an unsafe
 * request, and one sent with `GET` (which any page can make with an image or a link) is refused
 * outright; queries, like GET routes, are not. Gateways are checked once, at the handshake
 * (the session adapters refuse a cross-site `Origin`).
 */
@Injectable()
export class CrossSiteRequestGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly options: ResolvedSessionModuleSettings & { readonly trustProxy: boolean },
    private readonly platform: SessionHttpPlatform,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.options.csrf === false) return true;
    const handler = sessionHandlerContext(context);
    if (handler.kind === 'ws' || handler.kind === 'other') return true;
    if (handler.kind === 'graphql' && handler.operation !== 'mutation') return true;
    const request = handler.request;
    // A mutation whose request cannot be judged is not let through: a configuration error says why.
    if (request === undefined) return requireHandlerSession(handler) !== undefined;
    const method = (request.method ?? 'GET').toUpperCase();
    // Before @AllowCrossSite(): a GET any page can make is never a way to run a mutation.
    if (handler.kind === 'graphql' && (method === 'GET' || method === 'HEAD')) {
      throw new CrossSiteRequestException('GraphQL mutations are not accepted over GET');
    }
    if (this.reflector.getAllAndOverride<boolean | undefined>(ALLOW_CROSS_SITE, [context.getHandler(), context.getClass()])) {
      return true;
    }
    if (this.isCrossSite(request, handler.kind === 'graphql' ? 'POST' : method)) throw new CrossSiteRequestException();
    return true;
  }

  private isCrossSite(request: HandlerRequest, method: string): boolean {
    const secure = this.platform.isSecure(request, this.options.trustProxy);
    return isCrossSiteRequest({
      method,
      origin: single(request.headers.origin),
      secFetchSite: single(request.headers['sec-fetch-site']),
      ownOrigin: `${secure ? 'https' : 'http'}://${request.headers.host ?? ''}`,
      allowedOrigins: this.options.csrf === false ? [] : this.options.csrf.allowedOrigins,
    });
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

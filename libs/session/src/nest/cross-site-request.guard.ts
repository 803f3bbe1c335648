import { ForbiddenException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { isCrossSiteRequest } from '../core/cross-site-request';
import { isSecureRequest } from '../core/request-security';
import type { ResolvedSessionOptions } from '../core/session-options';
import { ALLOW_CROSS_SITE } from './session.constants';

/**
 * Refuses, with 403, unsafe requests that the browser says another site sent (cross-site request
 * forgery). Registered globally by `SessionModule` when the `csrf` option is on; `@AllowCrossSite()`
 * opts a route out. The decision itself is `isCrossSiteRequest` in core.
 */
@Injectable()
export class CrossSiteRequestGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly options: ResolvedSessionOptions,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http' || this.options.csrf === false) return true;
    if (this.reflector.getAllAndOverride<boolean | undefined>(ALLOW_CROSS_SITE, [context.getHandler(), context.getClass()])) {
      return true;
    }
    const request = context.switchToHttp().getRequest<IncomingMessage>();
    const secure = isSecureRequest({
      encrypted: (request.socket as TLSSocket).encrypted === true,
      forwardedProto: request.headers['x-forwarded-proto'],
      trustProxy: this.options.trustProxy,
    });
    const crossSite = isCrossSiteRequest({
      method: request.method ?? 'GET',
      origin: single(request.headers.origin),
      secFetchSite: single(request.headers['sec-fetch-site']),
      ownOrigin: `${secure ? 'https' : 'http'}://${request.headers.host ?? ''}`,
      allowedOrigins: this.options.csrf.allowedOrigins,
    });
    if (crossSite) throw new ForbiddenException('Cross-site request refused');
    return true;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

import { ForbiddenException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingHttpHeaders } from 'node:http';
import { isCrossSiteRequest } from '../core/cross-site-request';
import type { ResolvedSessionModuleSettings } from './session-module-options';
import type { SessionHttpPlatform } from './http/session-http-platform';
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
    private readonly options: ResolvedSessionModuleSettings & { readonly trustProxy: boolean },
    private readonly platform: SessionHttpPlatform,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http' || this.options.csrf === false) return true;
    if (this.reflector.getAllAndOverride<boolean | undefined>(ALLOW_CROSS_SITE, [context.getHandler(), context.getClass()])) {
      return true;
    }
    const request = context.switchToHttp().getRequest<{ method?: string; headers: IncomingHttpHeaders }>();
    const secure = this.platform.isSecure(request, this.options.trustProxy);
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

import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AllowCrossSite } from './allow-cross-site.decorator';
import { CrossSiteRequestGuard } from './cross-site-request.guard';
import type { SessionHttpPlatform } from './http/session-http-platform';
import { CrossSiteRequestException } from './session.exceptions';

class Resolver {
  mutate(): void {}
  webhook(): void {}
}
AllowCrossSite()(Resolver.prototype, 'webhook', Object.getOwnPropertyDescriptor(Resolver.prototype, 'webhook')!);

const platform = { isSecure: () => false } as unknown as SessionHttpPlatform;
const guard = new CrossSiteRequestGuard(new Reflector(), { csrf: { allowedOrigins: [] }, trustProxy: false } as never, platform);

/** A resolver's execution context: `(root, args, context, info)` as graphql-js calls it. */
function resolverContext(
  operation: 'query' | 'mutation',
  request: { method: string; headers: Record<string, string> },
  handler: () => void = Resolver.prototype.mutate,
): ExecutionContext {
  return {
    getType: () => 'graphql',
    getArgs: () => [undefined, {}, { req: request }, { operation: { operation } }],
    getHandler: () => handler,
    getClass: () => Resolver,
  } as unknown as ExecutionContext;
}

describe('CrossSiteRequestGuard on GraphQL operations', () => {
  const crossSite = { Host: 'app.example', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };

  it('refuses a mutation sent with GET or HEAD, whoever sent it, even on an @AllowCrossSite() resolver', () => {
    for (const method of ['GET', 'HEAD', 'get']) {
      for (const handler of [Resolver.prototype.mutate, Resolver.prototype.webhook]) {
        expect(() => guard.canActivate(resolverContext('mutation', { method, headers: { host: 'app.example' } }, handler))).toThrow(
          new CrossSiteRequestException('GraphQL mutations are not accepted over GET'),
        );
      }
    }
  });

  it('refuses a cross-site mutation, and lets it through on an @AllowCrossSite() resolver', () => {
    expect(() => guard.canActivate(resolverContext('mutation', { method: 'POST', headers: crossSite }))).toThrow(CrossSiteRequestException);
    expect(guard.canActivate(resolverContext('mutation', { method: 'POST', headers: crossSite }, Resolver.prototype.webhook))).toBe(true);
  });

  it('lets queries through, from anywhere and with any method, like GET routes', () => {
    expect(guard.canActivate(resolverContext('query', { method: 'GET', headers: crossSite }))).toBe(true);
    expect(guard.canActivate(resolverContext('query', { method: 'POST', headers: crossSite }))).toBe(true);
  });

  it('lets a same-origin mutation through', () => {
    const headers = { host: 'app.example', origin: 'http://app.example', 'sec-fetch-site': 'same-origin' };
    expect(guard.canActivate(resolverContext('mutation', { method: 'POST', headers }))).toBe(true);
  });
});

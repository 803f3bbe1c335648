import type { INestApplicationContext } from '@nestjs/common';
import { UseGuards } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { Public } from '../public.decorator';
import { SESSION_OPTIONS } from '../session.constants';
import { SessionGuard } from '../session.guard';
import { GuardedGateways } from './guarded-gateways';

/** What @WebSocketGateway(options) records, without importing @nestjs/websockets here. */
function gateway(options: Record<string, unknown> = {}): ClassDecorator {
  return (target) => {
    Reflect.defineMetadata('websockets:is_gateway', true, target);
    Reflect.defineMetadata('websockets:gateway_options', options, target);
  };
}

class CustomGuard extends SessionGuard {}

@gateway()
@UseGuards(SessionGuard)
class Root {}

@gateway({ namespace: 'chat' })
@UseGuards(CustomGuard)
class Chat {}

@gateway({ namespace: /^\/rooms-\d+$/ })
@UseGuards(SessionGuard)
class Rooms {}

@gateway({ namespace: '/open', path: '/ws-open' })
class Open {}

@gateway({ namespace: '/public' })
@Public()
class PublicGateway {}

class NotAGateway {}

function appWith(guard: 'global' | 'none', ...classes: Array<abstract new () => unknown>): INestApplicationContext {
  const modules = new Map([['AppModule', { providers: new Map(classes.map((type) => [type, { metatype: type }])) }]]);
  return {
    get: (token: unknown) => (token === SESSION_OPTIONS ? { guard } : token === ModulesContainer ? modules : undefined),
  } as unknown as INestApplicationContext;
}

describe('GuardedGateways', () => {
  it('requires sign-in where a gateway is guarded by SessionGuard or a subclass, by namespace name or pattern', () => {
    const gateways = new GuardedGateways(appWith('none', Root, Chat, Rooms, Open, PublicGateway, NotAGateway), 'namespace');
    expect(gateways.requireSignIn('/')).toBe(true);
    expect(gateways.requireSignIn('/chat')).toBe(true);
    expect(gateways.requireSignIn('/rooms-12')).toBe(true);
    expect(gateways.requireSignIn('/rooms-x')).toBe(false);
    expect(gateways.requireSignIn('/open')).toBe(false);
    expect(gateways.requireSignIn('/public')).toBe(false);
  });

  it("with guard: 'global', every gateway but a @Public() one", () => {
    const gateways = new GuardedGateways(appWith('global', Open, PublicGateway), 'namespace');
    expect(gateways.requireSignIn('/open')).toBe(true);
    expect(gateways.requireSignIn('/public')).toBe(false);
  });

  it('reads the ws path instead of the namespace for the ws adapter', () => {
    const gateways = new GuardedGateways(appWith('global', Open), 'path');
    expect(gateways.requireSignIn('/ws-open')).toBe(true);
    expect(gateways.requireSignIn('/open')).toBe(false);
  });
});

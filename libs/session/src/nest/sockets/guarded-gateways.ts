import type { INestApplicationContext, Type } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { PUBLIC_ROUTE, SESSION_OPTIONS } from '../session.constants';
import { SessionGuard } from '../session.guard';
import type { ResolvedSessionModuleOptions } from '../session-module-options';

// The metadata keys of @nestjs/common's @UseGuards() and @nestjs/websockets' @WebSocketGateway(),
// read here without importing either package's internals (the WebSocket packages are optional).
const GUARDS_METADATA = '__guards__';
const GATEWAY_METADATA = 'websockets:is_gateway';
const GATEWAY_OPTIONS = 'websockets:gateway_options';

/** Where a gateway listens: its socket.io namespace, or its `ws` path. */
type GatewayScope = string | RegExp | ((...args: unknown[]) => unknown);

/**
 * Which namespaces (socket.io) or paths (`ws`) refuse anonymous handshakes: those of a gateway
 * guarded as a whole, by `@UseGuards(SessionGuard)` (or a subclass) on its class, or by the
 * module's `guard: 'global'`, unless the class is `@Public()`. A gateway that guards only some
 * of its handlers still takes anonymous sockets, and refuses those handlers' messages.
 */
export class GuardedGateways {
  #scopes: GatewayScope[] | undefined;

  constructor(
    private readonly app: INestApplicationContext,
    /** What a gateway is found by: socket.io's `namespace` or `ws`'s `path` option. */
    private readonly scopeOption: 'namespace' | 'path',
  ) {}

  /** Whether a handshake on `name` (a namespace such as '/' or a path such as '/ws') must be signed in. */
  requireSignIn(name: string): boolean {
    this.#scopes ??= this.#scan();
    return this.#scopes.some((scope) => matches(scope, name));
  }

  /** Read once, at the first handshake: every module's gateways are known by then. */
  #scan(): GatewayScope[] {
    const options = this.app.get<ResolvedSessionModuleOptions>(SESSION_OPTIONS, { strict: false });
    const scopes: GatewayScope[] = [];
    for (const module of this.app.get(ModulesContainer, { strict: false }).values()) {
      for (const wrapper of module.providers.values()) {
        const gateway = wrapper.metatype as Type | null | undefined;
        if (typeof gateway !== 'function' || Reflect.getMetadata(GATEWAY_METADATA, gateway) !== true) continue;
        if (!isGuarded(gateway, options.guard === 'global')) continue;
        const gatewayOptions = (Reflect.getMetadata(GATEWAY_OPTIONS, gateway) ?? {}) as Record<string, unknown>;
        scopes.push((gatewayOptions[this.scopeOption] as GatewayScope | undefined) ?? '/');
      }
    }
    return scopes;
  }
}

function isGuarded(gateway: Type, globalGuard: boolean): boolean {
  if (Reflect.getMetadata(PUBLIC_ROUTE, gateway) === true) return false;
  if (globalGuard) return true;
  const guards = (Reflect.getMetadata(GUARDS_METADATA, gateway) ?? []) as unknown[];
  return guards.some(
    (guard) => guard instanceof SessionGuard || (typeof guard === 'function' && (guard === SessionGuard || guard.prototype instanceof SessionGuard)),
  );
}

function matches(scope: GatewayScope, name: string): boolean {
  if (typeof scope === 'string') return normalise(scope) === normalise(name);
  if (scope instanceof RegExp) return scope.test(name);
  // A namespace chosen by a function (socket.io dynamic namespaces) cannot be told in advance:
  // treated as guarded, so no anonymous socket slips through.
  return true;
}

function normalise(name: string): string {
  const withSlash = name.startsWith('/') ? name : `/${name}`;
  return withSlash.length > 1 && withSlash.endsWith('/') ? withSlash.slice(0, -1) : withSlash;
}

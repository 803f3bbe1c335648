import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { SessionConfigError } from '../../core/errors';
import type { SessionHandle } from '../../core/session';
import type { SessionManager } from '../../core/session-manager';
import type { SessionRequest } from '../../core/session-request';
import { expressPlatform } from '../express/express-platform';
import { fastifyPlatform } from '../fastify/fastify-platform';
import type { SessionBinding } from './request-binding';
import type { CommitLogger, SessionHttpPlatform, SessionLoader } from './session-http-platform';

/** The platforms the session glue hooks, by `HttpAdapter.getType()`. */
const PLATFORMS: Readonly<Record<string, SessionHttpPlatform>> = { express: expressPlatform, fastify: fastifyPlatform };

/**
 * The HTTP platform of the running application, chosen at boot from Nest's HTTP adapter: the one
 * place that asks which platform it is. `SessionModule` calls {@link select} when it mounts its
 * middleware (Nest creates the adapter after the providers in tests, so not earlier); until then,
 * and in an application with no HTTP server, it is Express. Any other adapter fails the boot with
 * a `SessionConfigError` naming it, rather than answering 500 on every session route later.
 */
@Injectable()
export class SelectedHttpPlatform implements SessionHttpPlatform {
  #platform: SessionHttpPlatform = expressPlatform;

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /**
   * Picks and installs the platform of the application's HTTP adapter. True when the platform
   * loads sessions itself, so no middleware is to be mounted.
   */
  select(loader: SessionLoader): boolean {
    const adapter = this.adapterHost.httpAdapter as HttpAdapterHost['httpAdapter'] | undefined;
    if (!adapter) return false; // an application context without HTTP (a worker, a CLI): nothing to hook
    const type = adapter.getType();
    const platform = Object.hasOwn(PLATFORMS, type) ? PLATFORMS[type] : undefined;
    if (!platform) {
      throw new SessionConfigError([
        `HTTP platform: "${type}" (${adapter.constructor.name}) is not supported; SessionModule hooks ` +
          '@nestjs/platform-express (ExpressAdapter, the default) and @nestjs/platform-fastify (FastifyAdapter)',
      ]);
    }
    this.#platform = platform;
    return platform.install?.(adapter.getInstance(), loader) ?? false;
  }

  sessionRequest(request: unknown, trustProxy: boolean): SessionRequest {
    return this.#platform.sessionRequest(request, trustProxy);
  }

  isSecure(request: unknown, trustProxy: boolean): boolean {
    return this.#platform.isSecure(request, trustProxy);
  }

  isAttached(request: unknown): boolean {
    return this.#platform.isAttached(request);
  }

  attach(request: unknown, session: SessionHandle, binding: SessionBinding): void {
    this.#platform.attach(request, session, binding);
  }

  commitBeforeResponse(response: unknown, session: SessionHandle, manager: SessionManager, logger: CommitLogger): void {
    this.#platform.commitBeforeResponse(response, session, manager, logger);
  }
}

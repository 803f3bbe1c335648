import type { SessionHandle } from '../../core/session';
import type { SessionManager } from '../../core/session-manager';
import type { SessionRequest } from '../../core/session-request';
import type { SessionBinding } from './request-binding';

/** Where the commit hooks report failures they handled. */
export interface CommitLogger {
  error(message: string, trace?: string): void;
}

/**
 * Everything the session glue needs from an HTTP platform, and the only place that knows one:
 * the request and response objects, how headers leave, where `req.session` lives. The
 * middleware and the guards talk to this interface only. Implementations: `expressPlatform`
 * (`express/`) and `fastifyPlatform` (`fastify/`); `SelectedHttpPlatform` picks one at boot.
 */
export interface SessionHttpPlatform {
  /**
   * Called once at boot with the HTTP adapter's instance (the Express app, the Fastify server),
   * for what a platform sets up per application rather than per request: hooks, request
   * accessors. True when it also runs `loader` on every request itself (Fastify: an `onRequest`
   * hook), so the module mounts no middleware; false or absent, the module mounts
   * `SessionMiddleware`. Throws a `SessionConfigError` when the instance cannot be hooked.
   */
  install?(instance: unknown, loader: SessionLoader): boolean;
  /** What the engine needs of a request: its `Cookie` header, HTTPS or not, its device. */
  sessionRequest(request: unknown, trustProxy: boolean): SessionRequest;
  /** Whether the request came over HTTPS (trusting `X-Forwarded-Proto` only with `trustProxy`). */
  isSecure(request: unknown, trustProxy: boolean): boolean;
  /** Whether a session is attached already (the middleware mounted twice, by nested modules). */
  isAttached(request: unknown): boolean;
  /** Attaches the loaded session: `req.session` for the application, the binding for `@Session()` and the guard. */
  attach(request: unknown, session: SessionHandle, binding: SessionBinding): void;
  /**
   * Makes the response wait for the session's commit and carry its `Set-Cookie`, and answers 503
   * (409 for a session ended elsewhere) in its place when the commit fails.
   */
  commitBeforeResponse(response: unknown, session: SessionHandle, manager: SessionManager, logger: CommitLogger): void;
}

/**
 * Loads a request's session and attaches it (the session middleware's `use`): calls `next()` once
 * loaded, rejects when the store fails.
 */
export type SessionLoader = (request: unknown, response: unknown, next: () => void) => Promise<void>;

/** The injection token of the module's {@link SessionHttpPlatform}. */
export const SESSION_HTTP_PLATFORM = Symbol('SESSION_HTTP_PLATFORM');

import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessionConfigError } from '../../core/errors';
import { clientAddress } from '../../core/request-security';
import type { SessionRequest } from '../../core/session-request';
import { isSecureNodeRequest } from '../http/node-request';
import { bindSession, SESSION_BINDING, sessionBindingOf, type SessionAwareRequest } from '../http/request-binding';
import type { SessionHttpPlatform, SessionLoader } from '../http/session-http-platform';
import { fillSessionSlot, readSessionSlot, writeSessionSlot, type SessionSlot } from '../http/session-slot';
import { commitOnSend, markForCommit } from './commit-on-send';
import type { FastifyInstanceLike, FastifyRequestLike } from './fastify-types';

type RawRequest = IncomingMessage & SessionSlot;

const hookedInstances = new WeakSet<object>();

/**
 * Nest on Fastify (`@nestjs/platform-fastify`). The session is loaded in an `onRequest` hook
 * onto Node's own request (`request.raw`), by the same loader Express runs as middleware (so
 * `SessionMiddleware` applied by hand works too); Fastify's request object reads it back through
 * accessors declared once with `decorateRequest` (`request.session`, and the binding
 * `@Session()` and the guards read). The commit runs in Fastify's own `onSend` hook (see
 * commit-on-send), not in patched methods.
 */
export const fastifyPlatform: SessionHttpPlatform = {
  sessionRequest(request: unknown, trustProxy: boolean): SessionRequest {
    const raw = request as RawRequest;
    return {
      cookieHeader: raw.headers.cookie,
      secure: fastifyPlatform.isSecure(raw, trustProxy),
      // Read only when a user signs in. Nest middleware gets no Fastify request (whose `ip`
      // follows Fastify's trustProxy): the address follows the session's trustProxy option.
      device: () => ({
        ip: clientAddress({ remoteAddress: raw.socket.remoteAddress, forwardedFor: raw.headers['x-forwarded-for'], trustProxy }),
        userAgent: raw.headers['user-agent'],
      }),
    };
  },

  isSecure(request: unknown, trustProxy: boolean): boolean {
    // The guards pass Fastify's request, the middleware Node's.
    return isSecureNodeRequest(((request as Partial<FastifyRequestLike>).raw ?? request) as IncomingMessage, trustProxy);
  },

  isAttached(request: unknown): boolean {
    return sessionBindingOf(request as RawRequest) !== undefined;
  },

  attach(request, session, binding): void {
    bindSession(request as RawRequest, binding);
    fillSessionSlot(request as RawRequest, session);
  },

  commitBeforeResponse(response, session, manager, logger): void {
    markForCommit(response as ServerResponse, session, manager, logger);
  },

  install(instance: unknown, loader: SessionLoader): boolean {
    const fastify = instance as FastifyInstanceLike;
    if (hookedInstances.has(fastify)) return true; // SessionModule imported more than once: loaded once
    try {
      fastify.decorateRequest('session', {
        getter(this: FastifyRequestLike) {
          return readSessionSlot(this.raw as RawRequest);
        },
        setter(this: FastifyRequestLike, value: unknown) {
          writeSessionSlot(this.raw as RawRequest, value as RawRequest['session']);
        },
      });
      fastify.decorateRequest(SESSION_BINDING, {
        getter(this: FastifyRequestLike) {
          return (this.raw as SessionAwareRequest)[SESSION_BINDING];
        },
      });
      // Loads the session before routing's guards and handlers, on Node's request and response
      // as the middleware would; a store failure goes to Nest's exception handling (503).
      fastify.addHook('onRequest', (request, reply, done) => {
        loader(request.raw, reply.raw, done).catch((error: unknown) => done(error instanceof Error ? error : new Error(String(error))));
      });
      fastify.addHook('onSend', commitOnSend);
    } catch (error) {
      throw new SessionConfigError([
        `HTTP platform: the session cannot hook this Fastify application (${error instanceof Error ? error.message : String(error)}). ` +
          'If another session plugin (@fastify/session, @fastify/secure-session) decorates request.session, remove it; ' +
          'SessionModule must be imported before the application starts listening.',
      ]);
    }
    hookedInstances.add(fastify);
    return true;
  },
};

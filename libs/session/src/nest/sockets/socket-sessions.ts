import { Inject, Injectable, Logger, type INestApplicationContext, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { SessionError } from '../../core/errors';
import type { IncomingMessage } from 'node:http';
import { isCrossSiteHandshake } from '../../core/cross-site-request';
import type { SessionEndReason } from '../../core/ended-session-broadcast';
import { SessionStoreError } from '../../core/errors';
import { computeExpiresAt, createExpiryPolicy, type ExpiryPolicy } from '../../core/expiry';
import { LiveSessions, type LiveConnection } from '../../core/live-sessions';
import { clientAddress } from '../../core/request-security';
import { internals, type SessionHandle } from '../../core/session';
import { SessionEvents } from '../../core/session-events';
import { SessionManager } from '../../core/session-manager';
import type { SessionRequest } from '../../core/session-request';
import { isSecureNodeRequest } from '../http/node-request';
import { SESSION_BINDING, type SessionAwareRequest } from '../http/request-binding';
import { SESSION_OPTIONS } from '../session.constants';
import type { ResolvedSessionModuleOptions } from '../session-module-options';

/** Why a handshake was refused; `message` is what the client is told (socket.io: `connect_error`). */
export class HandshakeRefusedError extends Error {
  /** The same codes as GraphQL errors and gateway `exception` events. */
  readonly data: { readonly code: 'CROSS_SITE_REQUEST' | 'UNAUTHENTICATED' | 'SESSION_ENDED' | 'SESSION_STORE_UNAVAILABLE' };

  constructor(message: string, code: HandshakeRefusedError['data']['code']) {
    super(message);
    this.name = 'HandshakeRefusedError';
    this.data = { code };
  }
}

/** A socket's session, read from its handshake: what gateway handlers see, and how to read it again. */
export interface SocketSession extends SessionAwareRequest {
  readonly session: SessionHandle;
  /** The handshake, as the session manager reads it: rechecks load the session again from it. */
  readonly handshake: SessionRequest;
}

/** After a failed recheck (the store is down), how soon to try again: an outage does not end sockets. */
const RETRY_AFTER_STORE_FAILURE = 5_000;

/**
 * Sessions on sockets, for the WebSocket adapters (`SessionIoAdapter`, `SessionWsAdapter`): reads
 * a handshake (refusing another site's page, loading the session from the `Cookie` header as an
 * HTTP request would), then keeps each socket only as long as its session. A socket is closed
 * when its session ends here or on another instance (`LiveSessions`), and rechecked against the
 * store at its session's deadlines and every `sockets.recheckInterval`, which bounds how long it
 * can outlive a session ended where no event reached. A socket never extends its session: only
 * HTTP requests touch it.
 */
@Injectable()
export class SocketSessions implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('SessionModule');
  private readonly live: LiveSessions;
  private readonly policy: ExpiryPolicy;
  private readonly stopped = new Set<() => void>();

  constructor(
    @Inject(SessionManager) private readonly manager: SessionManager,
    @Inject(SESSION_OPTIONS) private readonly options: ResolvedSessionModuleOptions,
    @Inject(SessionEvents) events: SessionEvents,
  ) {
    this.live = new LiveSessions(events, options.sockets.broadcast, (error) =>
      this.logger.error(`Ending a session's sockets failed: ${error instanceof Error ? error.message : String(error)}`),
    );
    this.policy = createExpiryPolicy(options.idleTimeout, options.absoluteTimeout);
  }

  /** Follows the lifecycle events, and the broadcast when one is configured (boot waits for its subscription). */
  async onModuleInit(): Promise<void> {
    await this.live.start();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const stop of this.stopped) stop();
    this.stopped.clear();
    await this.live.stop();
  }

  /**
   * Reads a handshake: refuses a page of another site, then loads the session its `Cookie`
   * header carries (a forged, expired or revoked cookie yields an anonymous session, as on HTTP).
   * Rejects with {@link HandshakeRefusedError}.
   */
  async open(request: IncomingMessage): Promise<SocketSession> {
    const { trustProxy, sockets } = this.options;
    const secure = isSecureNodeRequest(request, trustProxy);
    const crossSite = isCrossSiteHandshake({
      origin: single(request.headers.origin),
      secFetchSite: single(request.headers['sec-fetch-site']),
      ownOrigin: `${secure ? 'https' : 'http'}://${request.headers.host ?? ''}`,
      allowedOrigins: sockets.allowedOrigins,
    });
    if (crossSite) throw new HandshakeRefusedError('Cross-site connection refused', 'CROSS_SITE_REQUEST');
    const handshake: SessionRequest = {
      cookieHeader: request.headers.cookie,
      secure,
      device: () => ({
        ip: clientAddress({ remoteAddress: request.socket.remoteAddress, forwardedFor: request.headers['x-forwarded-for'], trustProxy }),
        userAgent: request.headers['user-agent'],
      }),
    };
    let session: SessionHandle;
    try {
      session = await this.manager.load(handshake);
    } catch (error) {
      if (!(error instanceof SessionStoreError)) throw error;
      this.logger.error(`Session load failed for a socket: ${error.message}`);
      throw new HandshakeRefusedError('Session store unavailable, please retry shortly', 'SESSION_STORE_UNAVAILABLE');
    }
    return { session, handshake, [SESSION_BINDING]: { manager: this.manager, loginPath: this.options.loginPath } };
  }

  /**
   * Refuses (`SESSION_ENDED`) a handshake whose session ended while it was being loaded: the
   * load read it just before a logout or revoke that has been reported since.
   */
  refuseIfEnded(opened: SocketSession): void {
    const state = internals(opened.session);
    if (!state.isNew && this.live.endedLately(state.key)) throw new HandshakeRefusedError('Session ended, please reconnect', 'SESSION_ENDED');
  }

  /** Whether the session is signed in (what `SessionGuard` lets through by default). */
  isSignedIn(opened: SocketSession): boolean {
    const user = (opened.session as SessionHandle & { user?: unknown }).user;
    return user !== null && typeof user === 'object';
  }

  /**
   * Keeps `connection` open only while its session lives; returns what to call once the socket
   * closed. A session that was never stored (anonymous, nothing saved) cannot end: not followed.
   * A session that ended while the handshake was loading it ends the connection at once.
   */
  follow(opened: SocketSession, connection: LiveConnection): () => void {
    const state = internals(opened.session);
    if (state.isNew) return () => undefined;
    const key = state.key;
    const endedMeanwhile = this.live.endedLately(key);
    if (endedMeanwhile) {
      connection.end(endedMeanwhile);
      return () => undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const stop = (): void => {
      done = true;
      clearTimeout(timer);
      untrack();
      this.stopped.delete(stop);
    };
    const end = (reason: SessionEndReason): void => {
      if (done) return;
      stop();
      connection.end(reason);
    };
    const untrack = this.live.track(key, { end });
    this.stopped.add(stop);
    /** Rechecks after `delay` ms: by default at the deadline `expiresAt`, or after the recheck interval if sooner. */
    const schedule = (expiresAt: number, delay = Math.max(0, Math.min(expiresAt - Date.now(), this.options.sockets.recheckInterval))): void => {
      timer = setTimeout(() => void recheck(expiresAt), delay + 1);
      timer.unref();
    };
    const recheck = async (expiresAt: number): Promise<void> => {
      let reloaded: SessionHandle;
      try {
        reloaded = await this.manager.load(opened.handshake, { quiet: true });
      } catch (error) {
        if (done) return;
        this.logger.warn(`A socket's session could not be rechecked (kept open, retried): ${error instanceof Error ? error.message : String(error)}`);
        schedule(expiresAt, RETRY_AFTER_STORE_FAILURE);
        return;
      }
      if (done) return;
      const current = internals(reloaded);
      if (current.isNew || current.key !== key) {
        end(this.endReason(state.createdAt, expiresAt));
        return;
      }
      schedule(computeExpiresAt(current, this.policy));
    };
    schedule(computeExpiresAt(state, this.policy));
    return stop;
  }

  /** How many sockets are followed (for tests and metrics). */
  get followed(): number {
    return this.live.size;
  }

  private endReason(createdAt: number, expiresAt: number): SessionEndReason {
    const now = Date.now();
    if (now < expiresAt) return 'ended';
    return now >= createdAt + this.policy.absoluteTimeout ? 'absolute-timeout' : 'idle-timeout';
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The application's {@link SocketSessions}, for the adapters; a clear error when SessionModule is missing. */
export function socketSessionsOf(app: INestApplicationContext): SocketSessions {
  let sessions: SocketSessions | undefined;
  try {
    sessions = app.get(SocketSessions, { strict: false });
  } catch {
    sessions = undefined;
  }
  if (!sessions) {
    throw new SessionError('The session socket adapter needs SessionModule: import SessionModule.forRoot() (or forRootAsync()) in the application module', 'SESSION_NOT_LOADED');
  }
  return sessions;
}

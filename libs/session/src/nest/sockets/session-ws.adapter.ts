import { Logger, type INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import { SessionError } from '../../core/errors';
import { GuardedGateways } from './guarded-gateways';
import { attachSocketCarrier } from './socket-carrier';
import { HandshakeRefusedError, socketSessionsOf, type SocketSession, type SocketSessions } from './socket-sessions';

/** The message a socket is sent (`{ event: 'session-ended', data: { reason } }`) before it is closed because its session ended. */
export const WS_SESSION_ENDED_EVENT = 'session-ended';
/** The close code of a socket whose session ended (4000-4999: for applications). */
export const WS_SESSION_ENDED_CLOSE_CODE = 4001;

const REFUSAL_STATUS: Record<HandshakeRefusedError['data']['code'], number> = {
  CROSS_SITE_REQUEST: 403,
  UNAUTHENTICATED: 401,
  SESSION_ENDED: 401,
  SESSION_STORE_UNAVAILABLE: 503,
};

type VerifyInfo = { origin: string; secure: boolean; req: IncomingMessage };
type VerifyCallback = (result: boolean, code?: number, message?: string) => void;
/** `ws`'s `verifyClient`, in either of its forms: `(info) => boolean` or `(info, callback) => void`. */
type VerifyClient = ((info: VerifyInfo, callback: VerifyCallback) => void) | ((info: VerifyInfo) => boolean);

/**
 * Nest's `ws` adapter, with sessions: the upgrade request is read like an HTTP request (a
 * cross-site page is refused with 403 `Cross-site connection refused`, an anonymous socket on a
 * guarded gateway with 401 `Authentication required`, a store outage with 503), the session is
 * what `@Session()` and `SessionGuard` see in `@SubscribeMessage()` handlers, and the socket is
 * sent `{ event: 'session-ended', data: { reason } }` and closed (code 4001) when its session
 * ends (here or on another instance).
 *
 * @example
 * app.useWebSocketAdapter(new SessionWsAdapter(app));
 */
export class SessionWsAdapter extends WsAdapter {
  readonly #app: INestApplicationContext;
  readonly #logger = new Logger('SessionWsAdapter');
  readonly #gateways: GuardedGateways;
  /** Handshakes verified, waiting for their `connection` event. */
  readonly #opened = new WeakMap<IncomingMessage, SocketSession>();
  #sessions: SocketSessions | undefined;

  constructor(app: INestApplicationContext) {
    super(app);
    this.#app = app;
    this.#gateways = new GuardedGateways(app, 'path');
  }

  /**
   * Adds the session check to the gateway's server (before any `verifyClient` of its own). A
   * gateway given a ready-made `server` option is served as Nest serves it, unchecked: refused.
   */
  override create(port: number, options: Record<string, unknown> & { namespace?: string; server?: unknown; path?: string } = {}): unknown {
    if (options.server !== undefined) {
      throw new SessionError(
        "SessionWsAdapter cannot check the handshakes of a gateway's own `server` option: let the adapter create the server (drop `server`)",
        'SESSION_CONFIG_INVALID',
      );
    }
    const own = options.verifyClient as VerifyClient | undefined;
    const path = options.path ?? '/';
    const verifyClient = (info: VerifyInfo, callback: VerifyCallback): void => {
      this.#verify(info.req, path).then(
        () => {
          if (!own) return callback(true);
          // The gateway's own verifyClient, after the session check, in whichever form it has.
          try {
            if (own.length >= 2) (own)(info, callback);
            else callback((own as (info: VerifyInfo) => boolean)(info));
          } catch (error) {
            this.#logger.error(`The gateway's verifyClient threw: ${error instanceof Error ? error.message : String(error)}`);
            callback(false, 500, 'Internal server error');
          }
        },
        (error: unknown) => {
          const refusal = this.#refusal(error);
          callback(false, refusal instanceof HandshakeRefusedError ? REFUSAL_STATUS[refusal.data.code] : 500, refusal.message);
        },
      );
    };
    return super.create(port, { ...options, verifyClient });
  }

  override bindClientConnect(server: WebSocketServer, callback: (...args: unknown[]) => unknown): void {
    server.on('connection', (client: WebSocket, request: IncomingMessage) => {
      const opened = this.#opened.get(request);
      if (opened) {
        this.#opened.delete(request);
        attachSocketCarrier(client, opened);
        const stop = this.#sessions!.follow(opened, {
          end: (reason) => {
            client.send(JSON.stringify({ event: WS_SESSION_ENDED_EVENT, data: { reason } }));
            client.close(WS_SESSION_ENDED_CLOSE_CODE, 'Session ended');
          },
        });
        client.once('close', stop);
      }
      callback(client, request);
    });
  }

  async #verify(request: IncomingMessage, path: string): Promise<void> {
    const sessions = (this.#sessions ??= socketSessionsOf(this.#app));
    const opened = await sessions.open(request);
    if (!sessions.isSignedIn(opened) && this.#gateways.requireSignIn(path)) {
      throw new HandshakeRefusedError('Authentication required', 'UNAUTHENTICATED');
    }
    sessions.refuseIfEnded(opened);
    this.#opened.set(request, opened);
  }

  #refusal(error: unknown): Error {
    if (error instanceof HandshakeRefusedError) return error;
    this.#logger.error(`Socket handshake failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return new Error('Internal server error');
  }
}

import { Logger, type INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Namespace, Server, Socket } from 'socket.io';
import { GuardedGateways } from './guarded-gateways';
import { attachSocketCarrier, socketCarrierOf } from './socket-carrier';
import { HandshakeRefusedError, socketSessionsOf, type SocketSession, type SocketSessions } from './socket-sessions';

/** The event a socket is sent, with `{ reason }`, just before it is disconnected because its session ended. */
export const SESSION_ENDED_EVENT = 'session-ended';

/**
 * Nest's socket.io adapter, with sessions: every connection's handshake is read like an HTTP
 * request (a cross-site page is refused with `Cross-site connection refused`, the session is
 * loaded from the `Cookie` header, an anonymous socket on a guarded gateway is refused with
 * `Authentication required`: socket.io's `connect_error`, with `data.code`), the session is
 * what `@Session()` and `SessionGuard` see in `@SubscribeMessage()` handlers, and the socket is
 * sent `session-ended` and disconnected when its session ends (here or on another instance).
 *
 * @example
 * const app = await NestFactory.create(AppModule);
 * app.useWebSocketAdapter(new SessionIoAdapter(app));
 */
export class SessionIoAdapter extends IoAdapter {
  readonly #app: INestApplicationContext;
  readonly #logger = new Logger('SessionIoAdapter');
  readonly #gateways: GuardedGateways;
  readonly #hooked = new WeakSet<Namespace>();
  #sessions: SocketSessions | undefined;

  constructor(app: INestApplicationContext) {
    super(app);
    this.#app = app;
    this.#gateways = new GuardedGateways(app, 'namespace');
  }

  /** Nest binds each gateway's server (the main namespace or its own) here: the handshake check goes first. */
  override bindClientConnect(server: Server | Namespace, callback: (...args: unknown[]) => unknown): void {
    const namespace: Namespace = 'of' in server ? server.sockets : server;
    if (!this.#hooked.has(namespace)) {
      this.#hooked.add(namespace);
      namespace.use((socket: Socket, next: (error?: Error) => void) => {
        this.#open(socket).then(
          () => next(),
          (error: unknown) => next(this.#refusal(error)),
        );
      });
      // Registered before the gateways' own listeners: the socket is followed once connected.
      namespace.on('connection', (socket: Socket) => this.#follow(socket));
    }
    super.bindClientConnect(server, callback);
  }

  async #open(socket: Socket): Promise<void> {
    const sessions = (this.#sessions ??= socketSessionsOf(this.#app));
    const opened = await sessions.open(socket.request);
    if (!sessions.isSignedIn(opened) && this.#gateways.requireSignIn(socket.nsp.name)) {
      throw new HandshakeRefusedError('Authentication required', 'UNAUTHENTICATED');
    }
    sessions.refuseIfEnded(opened);
    attachSocketCarrier(socket, opened);
  }

  /** Follows a connected socket's session: `session-ended`, then a disconnect, when it ends. */
  #follow(socket: Socket): void {
    const opened = socketCarrierOf(socket) as SocketSession | undefined;
    if (!opened || !this.#sessions) {
      // Connected without the handshake check: a socket restored by socket.io's connection state
      // recovery, which skips namespace middleware by default. Not let in unchecked: the client
      // connects again, through the check.
      socket.disconnect();
      return;
    }
    const stop = this.#sessions.follow(opened, {
      end: (reason) => {
        socket.emit(SESSION_ENDED_EVENT, { reason });
        // This namespace's socket only: the session's sockets on other namespaces of the same
        // connection are each told and disconnected by their own follower.
        socket.disconnect();
      },
    });
    socket.once('disconnect', stop);
  }

  #refusal(error: unknown): Error {
    if (error instanceof HandshakeRefusedError) return error;
    this.#logger.error(`Socket handshake failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return new Error('Internal server error');
  }
}

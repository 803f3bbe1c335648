import type { SessionAwareRequest } from '../http/request-binding';

const SOCKET_SESSION = Symbol('socket session');

type SessionBearingSocket = { [SOCKET_SESSION]?: SessionAwareRequest };

/**
 * Keeps, on a socket (a socket.io `Socket` or a `ws` `WebSocket`), the session its handshake
 * carried, shaped as a request the session glue already reads: `session` and its binding.
 */
export function attachSocketCarrier(socket: object, carrier: SessionAwareRequest): void {
  (socket as SessionBearingSocket)[SOCKET_SESSION] = carrier;
}

/** The session a socket's handshake carried, if the session adapter opened it. */
export function socketCarrierOf(socket: object | undefined): SessionAwareRequest | undefined {
  return socket === undefined || socket === null ? undefined : (socket as SessionBearingSocket)[SOCKET_SESSION];
}

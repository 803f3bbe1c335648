// nest-session-auth/socket.io: sessions on socket.io gateways. A subpath of its own, so the main
// entry never loads @nestjs/platform-socket.io (an optional peer).
export { SessionIoAdapter, SESSION_ENDED_EVENT } from './nest/sockets/session-io.adapter';
export { HandshakeRefusedError } from './nest/sockets/socket-sessions';

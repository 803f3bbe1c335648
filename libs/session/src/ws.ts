// nest-session-auth/ws: sessions on `ws` gateways. A subpath of its own, so the main entry never
// loads @nestjs/platform-ws (an optional peer).
export { SessionWsAdapter, WS_SESSION_ENDED_CLOSE_CODE, WS_SESSION_ENDED_EVENT } from './nest/sockets/session-ws.adapter';
export { HandshakeRefusedError } from './nest/sockets/socket-sessions';

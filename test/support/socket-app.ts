import { Controller, HttpCode, Module, Post, UseGuards, type DynamicModule, type INestApplication } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Test } from '@nestjs/testing';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { Roles, Session, SessionGuard, SessionModule, SessionService, type SessionOptions } from '@app/session';
import { SessionIoAdapter } from '@app/session/socket.io';
import { SessionWsAdapter } from '@app/session/ws';
import { createUninitialisedApp, HTTP_PLATFORM, type HttpPlatformName } from './http-platform';

type SocketTestSession = Session<{ user?: { id: string; roles: string[] } }>;

/** A guarded gateway on the default namespace (socket.io) or path `/` (ws). */
@WebSocketGateway()
@UseGuards(SessionGuard)
export class GuardedGateway {
  @SubscribeMessage('whoami')
  whoami(@Session() session: SocketTestSession): { id: string; roles: string[] } {
    return { id: session.user!.id, roles: session.user!.roles };
  }

  @SubscribeMessage('admin')
  @Roles('admin')
  admin(): string {
    return 'secret';
  }
}

/** An unguarded gateway on its own namespace: anonymous sockets are let in, one handler is guarded. */
@WebSocketGateway({ namespace: '/open' })
export class OpenGateway {
  @SubscribeMessage('hello')
  hello(@Session() session: SocketTestSession, @ConnectedSocket() _socket: unknown, @MessageBody() _body: unknown): string {
    return session.user ? `hello ${session.user.id}` : 'hello stranger';
  }

  @SubscribeMessage('private')
  @UseGuards(SessionGuard)
  private(): string {
    return 'private';
  }
}

/** HTTP routes that sign in and end sessions, for the sockets to follow. */
@Controller()
export class SocketTestController {
  constructor(private readonly sessions: SessionService) {}

  @Post('login')
  @HttpCode(204)
  async login(@Session() session: SocketTestSession): Promise<void> {
    await session.login({ id: 'alice', roles: ['user'] });
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@Session() session: SocketTestSession): Promise<void> {
    await session.logout();
  }

  @Post('regenerate')
  @HttpCode(204)
  async regenerate(@Session() session: SocketTestSession): Promise<void> {
    await session.regenerate();
  }

  @Post('sign-out-everywhere')
  @HttpCode(204)
  async signOutEverywhere(): Promise<void> {
    await this.sessions.revokeAllForUser('alice');
  }
}

export type SocketKind = 'socket.io' | 'ws';

/** The module: session options, the gateways (ws: the guarded one only; it has no namespaces) and the routes. */
export function socketTestModule(kind: SocketKind, options: SessionOptions): DynamicModule {
  @Module({})
  class SocketTestModule {}
  return {
    module: SocketTestModule,
    imports: [SessionModule.forRoot(options)],
    controllers: [SocketTestController],
    providers: kind === 'socket.io' ? [GuardedGateway, OpenGateway] : [GuardedGateway],
  };
}

/** Boots the app with the session socket adapter, listening on a loopback port. */
export async function bootSocketApp(
  kind: SocketKind,
  options: SessionOptions,
  platform: HttpPlatformName = HTTP_PLATFORM,
): Promise<{ app: INestApplication; url: string }> {
  const moduleRef = await Test.createTestingModule({ imports: [socketTestModule(kind, options)] }).compile();
  const app = createUninitialisedApp(moduleRef, { logger: false }, platform);
  app.useWebSocketAdapter(kind === 'socket.io' ? new SessionIoAdapter(app) : new SessionWsAdapter(app));
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${address.port}` };
}

/** A socket.io client that connects once (no reconnection), over WebSocket, with these headers. */
export function ioClient(url: string, headers: Record<string, string> = {}, namespace = '/'): ClientSocket {
  return io(`${url}${namespace === '/' ? '' : namespace}`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    extraHeaders: headers,
  });
}

/** Resolves when the client connects; rejects with the `connect_error`. */
export function connected(socket: ClientSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
}

/** Emits and waits for the acknowledgement (at most 2 s). */
export function ask<T>(socket: ClientSocket, event: string, data?: unknown): Promise<T> {
  return socket.timeout(2000).emitWithAck(event, data) as Promise<T>;
}

/** A `ws` client; resolves once open, rejects with the refused handshake's status. */
export function wsClient(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), { headers });
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => reject(Object.assign(new Error(`${response.statusCode} ${body}`), { status: response.statusCode, body })));
    });
    socket.once('error', (error) => reject(error));
  });
}

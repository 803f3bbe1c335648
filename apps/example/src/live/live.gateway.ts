import { UseGuards } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Session, SessionGuard } from '@app/session';
import type { ExampleSession } from '../auth/session-user';

/**
 * socket.io on its default path (`/socket.io/`) and namespace. Guarded as a whole, so an
 * anonymous socket is refused at connection (`connect_error`: "Authentication required"), as is
 * a page of another site ("Cross-site connection refused"); when the session ends (logout, a
 * revoke, sign out everywhere, expiry) the socket is sent `session-ended` and disconnected.
 */
@WebSocketGateway()
@UseGuards(SessionGuard)
export class LiveGateway {
  /** `whoami`, acknowledged with `{ username, roles }`. */
  @SubscribeMessage('whoami')
  whoami(@Session() session: ExampleSession): { username: string; roles: string[] } {
    const { username, roles } = session.user!;
    return { username, roles: [...roles] };
  }
}

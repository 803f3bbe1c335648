import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { Session, SessionGuard } from '@app/session';
import { viewerOf, type ExampleSession } from '../auth/session-user';
import { renderPage } from '../pages/html';

/** The page that opens the socket: it shows who the socket says you are, and when your session ends. */
@Controller('live')
export class LiveController {
  @Get()
  @UseGuards(SessionGuard)
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  live(@Session() session: ExampleSession): string {
    const body = `<p id="live-status" role="status">Connecting…</p>
      <p class="muted">This page holds a socket.io connection. Log out here or in another tab, or sign out this device from
      <a href="/account/sessions">Your sessions</a>, and the server closes it within a second.</p>
      <script src="/socket.io/socket.io.js"></script>
      <script>${LIVE_SCRIPT}</script>`;
    return renderPage('Live connection', body, viewerOf(session), session.consumeFlash());
  }
}

// Plain text only (textContent), never HTML from the server.
const LIVE_SCRIPT = `
  const status = document.getElementById('live-status');
  const socket = io({ reconnection: false });
  socket.on('connect', async () => {
    const me = await socket.emitWithAck('whoami');
    status.textContent = 'Connected as ' + me.username + ' (' + me.roles.join(', ') + ')';
  });
  socket.on('connect_error', (error) => { status.textContent = 'Not connected: ' + error.message; });
  socket.on('session-ended', ({ reason }) => { status.textContent = 'Your session ended (' + reason + '): the connection was closed.'; });
`;

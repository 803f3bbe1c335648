import {
  Controller,
  Get,
  Header,
  Headers,
  Inject,
  NotFoundException,
  NotImplementedException,
  Param,
  Post,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { Session, SessionGuard, SessionService, type UserSession } from '@app/session';
import { viewerOf, type ExampleSession } from '../auth/session-user';
import { HtmlStringInterceptor } from '../http/html-string.interceptor';
import { prefersJson } from '../http/negotiation';
import { noContent, seeOther } from '../http/replies';
import { escapeHtml, renderPage } from '../pages/html';

const PAGE = '/account/sessions';
const CANNOT_LIST = "This deployment's session store cannot list sessions per user (memcached), so devices cannot be shown or signed out from here.";

/** What the JSON list shows of a session: the id is an opaque handle, never the session id. */
interface SessionSummary {
  readonly id: string;
  readonly createdAt: string;
  readonly lastSeenAt: string;
  readonly userAgent: string | null;
  readonly current: boolean;
}

/**
 * "Your sessions": the signed-in user's devices, with "sign out this device" and "sign out
 * everywhere else". HTML for browsers, JSON for API clients; forms get 303 back to the page,
 * JSON requests 204. A returned string is sent as HTML, an array as JSON, and a web `Response`
 * (`seeOther`, `noContent`) as it is; errors are Nest exceptions, answered as JSON.
 */
@Controller('account/sessions')
@UseGuards(SessionGuard)
export class AccountSessionsController {
  constructor(@Inject(SessionService) private readonly sessions: SessionService) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  @UseInterceptors(HtmlStringInterceptor)
  async list(
    @Headers('content-type') contentType: string | undefined,
    @Headers('accept') accept: string | undefined,
    @Session() session: ExampleSession,
  ): Promise<SessionSummary[] | string> {
    const userId = session.user!.id;
    const wantsJson = prefersJson(contentType, accept);
    if (!this.sessions.canListSessions) {
      if (wantsJson) throw new NotImplementedException({ statusCode: 501, message: CANNOT_LIST });
      return renderPage('Your sessions', `<p class="muted">${escapeHtml(CANNOT_LIST)}</p>`, viewerOf(session), session.consumeFlash());
    }
    const list = await this.sessions.listForUser(userId, { current: session });
    if (wantsJson) return list.map(summary);
    return renderPage('Your sessions', renderSessionList(list), viewerOf(session), session.consumeFlash());
  }

  /** Signs one of the user's devices out ("sign out this device"); this one included. */
  @Post(':id/revoke')
  async revoke(
    @Headers('content-type') contentType: string | undefined,
    @Headers('accept') accept: string | undefined,
    @Session() session: ExampleSession,
    @Param('id') id: string,
  ): Promise<Response> {
    const userId = session.user!.id;
    const wantsJson = prefersJson(contentType, accept);
    if (this.sessions.isCurrent(id, session)) {
      // This device: an ordinary logout, then a fresh session for the message on the login page.
      await session.logout();
      const next = await session.regenerate();
      if (wantsJson) return noContent();
      next.flash('info', 'This device was signed out.');
      return seeOther('/login');
    }
    // Only the user's own sessions: another user's id (or a made-up one) revokes nothing.
    const revoked = await this.sessions.revoke(id, { userId });
    if (wantsJson) {
      if (!revoked) throw new NotFoundException({ statusCode: 404, message: 'No such session of yours (it may have ended already)' });
      return noContent();
    }
    session.flash(revoked ? 'info' : 'error', revoked ? 'That device was signed out.' : 'That session had already ended.');
    return seeOther(PAGE);
  }

  /** Signs out every other device of the user ("sign out everywhere else"). */
  @Post('revoke-others')
  async revokeOthers(
    @Headers('content-type') contentType: string | undefined,
    @Headers('accept') accept: string | undefined,
    @Session() session: ExampleSession,
  ): Promise<Response> {
    const wantsJson = prefersJson(contentType, accept);
    if (!this.sessions.canListSessions) {
      if (wantsJson) throw new NotImplementedException({ statusCode: 501, message: CANNOT_LIST });
      session.flash('error', CANNOT_LIST);
      return seeOther(PAGE);
    }
    const count = await this.sessions.revokeAllForUser(session.user!.id, { except: session });
    if (wantsJson) return noContent();
    session.flash('info', count === 1 ? 'Signed out 1 other session.' : `Signed out ${count} other sessions.`);
    return seeOther(PAGE);
  }
}

function summary(entry: UserSession): SessionSummary {
  return {
    id: entry.id,
    createdAt: entry.createdAt.toISOString(),
    lastSeenAt: entry.lastSeenAt.toISOString(),
    userAgent: entry.userAgent ?? null,
    current: entry.current,
  };
}

function renderSessionList(list: readonly UserSession[]): string {
  const rows = list
    .map((entry) => {
      const action = entry.current ? 'Sign out' : 'Sign out this device';
      return `<li class="device${entry.current ? ' current' : ''}">
        <div>
          <strong>${escapeHtml(entry.userAgent ?? 'Unknown device')}</strong>${entry.current ? ' <span class="badge">This device</span>' : ''}
          <div class="muted">Signed in <time datetime="${entry.createdAt.toISOString()}">${formatTime(entry.createdAt)}</time>${
            entry.ip ? ` from ${escapeHtml(entry.ip)}` : ''
          } · last seen <time datetime="${entry.lastSeenAt.toISOString()}">${formatTime(entry.lastSeenAt)}</time></div>
        </div>
        <form method="post" action="${PAGE}/${encodeURIComponent(entry.id)}/revoke"><button type="submit" class="secondary">${action}</button></form>
      </li>`;
    })
    .join('\n');
  const others = list.filter((entry) => !entry.current).length;
  return `<p class="muted">Where you are signed in. Sign out a device you do not recognise, and change your password.</p>
    <ul class="devices">${rows}</ul>
    ${others > 0 ? `<form method="post" action="${PAGE}/revoke-others"><button type="submit">Sign out everywhere else</button></form>` : '<p class="muted">No other device is signed in.</p>'}`;
}

function formatTime(date: Date): string {
  return escapeHtml(date.toISOString().replace('T', ' ').slice(0, 16) + ' UTC');
}

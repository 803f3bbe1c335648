import { Body, Controller, Get, Header, Headers, HttpCode, Post, Query, UnauthorizedException, UnsupportedMediaTypeException, UseGuards } from '@nestjs/common';
import { safeReturnUrl, Session, SessionGuard } from '@app/session';
import { acceptsHtml, sendsForm, sendsJson } from '../http/negotiation';
import { htmlPage, noContent, seeOther } from '../http/replies';
import { escapeHtml, renderPage } from '../pages/html';
import { parseCredentials } from './credentials';
import { viewerOf, type ExampleSession } from './session-user';
import { LoginThrottlerGuard } from './login-throttler.guard';
import { UsersService } from './users.service';

const INVALID_CREDENTIALS = 'Invalid username or password';

/** What a JSON login answers. */
interface SignedIn {
  readonly username: string;
  readonly roles: readonly string[];
}

/** Login, logout and "who am I". */
@Controller()
export class AuthController {
  constructor(private readonly users: UsersService) {}

  /** The login form. `?returnTo=/path` remembers where to go after login (safe paths only). */
  @Get('login')
  @Header('Cache-Control', 'no-store')
  @Header('Content-Type', 'text/html; charset=utf-8')
  loginPage(@Session() session: ExampleSession, @Query('returnTo') returnTo: unknown): string {
    const safe = safeReturnUrl(returnTo, '');
    if (safe !== '') session.returnTo = safe;
    return renderLoginPage(session, undefined);
  }

  /**
   * Form: 303 to the remembered page (or `/`). JSON: 200 `{ username, roles }`. Wrong username and
   * wrong password get the same 401, body and timing.
   */
  @Post('login')
  @UseGuards(LoginThrottlerGuard)
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  async login(
    @Headers('content-type') contentType: string | undefined,
    @Body() body: unknown,
    @Session() session: ExampleSession,
  ): Promise<SignedIn | Response> {
    const isForm = sendsForm(contentType);
    if (!isForm && !sendsJson(contentType)) {
      throw new UnsupportedMediaTypeException('Send the login as application/json or an HTML form');
    }
    const credentials = parseCredentials(body);
    const user = await this.users.verifyCredentials(credentials.username, credentials.password);
    if (!user) {
      if (isForm) return htmlPage(401, renderLoginPage(session, INVALID_CREDENTIALS));
      throw new UnauthorizedException(INVALID_CREDENTIALS);
    }
    const returnTo = safeReturnUrl(session.returnTo, '/');
    // login() rotates the session id: an id planted before login never becomes authenticated.
    await session.login({ id: user.username, username: user.username, roles: user.roles });
    if (!isForm) return { username: user.username, roles: user.roles };
    // Shown once, on the page the redirect leads to.
    session.flash('info', `Signed in as ${user.username}`);
    return seeOther(returnTo);
  }

  /**
   * Ends the session for good. Form: 303 to /login, which says "You have been signed out" once
   * (a new, anonymous session carries the message). JSON: 204, and the cookie is expired.
   */
  @Post('logout')
  async logout(
    @Headers('content-type') contentType: string | undefined,
    @Headers('accept') accept: string | undefined,
    @Session() session: ExampleSession,
  ): Promise<Response> {
    const wasSignedIn = session.user !== undefined;
    await session.logout();
    if (sendsJson(contentType) || !acceptsHtml(accept)) return noContent();
    // The old session is gone from the store; the message lives in a fresh one with a new id.
    if (wasSignedIn) (await session.regenerate()).flash('info', 'You have been signed out.');
    return seeOther('/login');
  }

  /** The signed-in user, or 401. */
  @Get('me')
  @UseGuards(SessionGuard)
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  me(@Session() session: ExampleSession): { username: string; roles: readonly string[] } {
    const user = session.user!;
    return { username: user.username, roles: user.roles };
  }
}

function renderLoginPage(session: ExampleSession, error: string | undefined): string {
  const viewer = viewerOf(session);
  const body = `
    ${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
    ${viewer ? `<p class="muted">You are signed in as ${escapeHtml(viewer.username)}; logging in again switches account.</p>` : ''}
    <form method="post" action="/login">
      <label for="username">Username</label>
      <input id="username" name="username" autocomplete="username" required maxlength="64" autofocus>
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required>
      <button type="submit">Log in</button>
    </form>
    <p class="muted">Demo accounts (demo only): alice / alice-password, admin / admin-password.</p>`;
  return renderPage('Log in', body, viewer, session.consumeFlash());
}

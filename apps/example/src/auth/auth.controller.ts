import { Body, Controller, Get, Header, HttpCode, Post, Query, Req, Res, UnsupportedMediaTypeException, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { safeReturnUrl, Session, SessionGuard } from '@app/session';
import { escapeHtml, renderPage } from '../pages/html';
import { parseCredentials } from './credentials';
import { viewerOf, type ExampleSession } from './session-user';
import { LoginThrottlerGuard } from './login-throttler.guard';
import { UsersService } from './users.service';

const INVALID_CREDENTIALS = 'Invalid username or password';

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
  async login(@Req() request: Request, @Res() response: Response, @Body() body: unknown, @Session() session: ExampleSession): Promise<void> {
    const isForm = request.is('application/x-www-form-urlencoded') === 'application/x-www-form-urlencoded';
    if (!isForm && request.is('application/json') !== 'application/json') {
      throw new UnsupportedMediaTypeException('Send the login as application/json or an HTML form');
    }
    const credentials = parseCredentials(body);
    const user = await this.users.verifyCredentials(credentials.username, credentials.password);
    if (!user) {
      if (isForm) {
        response.status(401).type('html').setHeader('Cache-Control', 'no-store');
        response.send(renderLoginPage(session, INVALID_CREDENTIALS));
      } else {
        response.status(401).json({ statusCode: 401, error: 'Unauthorized', message: INVALID_CREDENTIALS });
      }
      return;
    }
    const returnTo = safeReturnUrl(session.returnTo, '/');
    // login() rotates the session id: an id planted before login never becomes authenticated.
    await session.login({ id: user.username, username: user.username, roles: user.roles });
    if (isForm) {
      // Shown once, on the page the redirect leads to.
      session.flash('info', `Signed in as ${user.username}`);
      response.redirect(303, returnTo);
    } else {
      response.status(200).json({ username: user.username, roles: user.roles });
    }
  }

  /**
   * Ends the session for good. Form: 303 to /login, which says "You have been signed out" once
   * (a new, anonymous session carries the message). JSON: 204, and the cookie is expired.
   */
  @Post('logout')
  async logout(@Req() request: Request, @Res() response: Response, @Session() session: ExampleSession): Promise<void> {
    const wasSignedIn = session.user !== undefined;
    await session.logout();
    if (request.is('application/json') === 'application/json' || !request.accepts('html')) {
      response.status(204).end();
      return;
    }
    // The old session is gone from the store; the message lives in a fresh one with a new id.
    if (wasSignedIn) (await session.regenerate()).flash('info', 'You have been signed out.');
    response.redirect(303, '/login');
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

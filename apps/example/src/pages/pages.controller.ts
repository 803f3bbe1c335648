import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { Roles, Session, SessionGuard } from '@app/session';
import { viewerOf, type ExampleSession } from '../auth/session-user';
import { escapeHtml, renderPage } from './html';

/** The example's HTML pages: one public, two protected. */
@Controller()
export class PagesController {
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  home(@Session() session: ExampleSession): string {
    const viewer = viewerOf(session);
    const body = viewer
      ? `<p>Welcome back, <strong>${escapeHtml(viewer.username)}</strong> (${escapeHtml(viewer.roles.join(', '))}).</p>
         <ul><li><a href="/articles/create">Write an article</a></li><li><a href="/admin">Admin area</a></li><li><a href="/me">/me as JSON</a></li></ul>`
      : `<p>You are not signed in. <a href="/login">Log in</a>, or open
         <a href="/articles/create">a protected page</a> to be sent to the login form and back.</p>`;
    return renderPage('Home', body, viewer, session.consumeFlash());
  }

  @Get('articles/create')
  @UseGuards(SessionGuard)
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  createArticle(@Session() session: ExampleSession): string {
    const body = `<p>Only signed-in users see this page.</p>
      <form><label for="title">Title</label><input id="title" name="title"></form>`;
    return renderPage('Write an article', body, viewerOf(session), session.consumeFlash());
  }

  @Get('admin')
  @UseGuards(SessionGuard)
  @Roles('admin')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  admin(@Session() session: ExampleSession): string {
    return renderPage('Admin', '<p>Only users with the <code>admin</code> role see this page.</p>', viewerOf(session), session.consumeFlash());
  }
}

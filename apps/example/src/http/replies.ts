import encodeUrl from 'encodeurl';

/**
 * Answers whose status depends on the request (a form gets a redirect where an API client gets
 * 204), returned as web `Response`s: Nest sends their status and headers as they are, on either
 * HTTP platform, so no handler needs `@Res()`. Headers set by `@Header()` and the session cookie
 * are kept. For a fixed status, the controllers use `@HttpCode()` and plain return values.
 */

/**
 * 303 See Other: after a form post, the browser GETs `location`. The path is percent-encoded the
 * way Express's `res.redirect()` does (a remembered `/café` must not become a broken header).
 */
export function seeOther(location: string): Response {
  return new Response(null, { status: 303, headers: { Location: encodeUrl(location) } });
}

/** 204 No Content: done, nothing to show (an API client's logout or revoke). */
export function noContent(): Response {
  return new Response(null, { status: 204 });
}

/** An HTML page with a status of its own (a login form shown again with 401). */
export function htmlPage(status: number, html: string): Response {
  return new Response(html, { status, headers: { 'Content-Type': 'text/html; charset=utf-8' } });
}

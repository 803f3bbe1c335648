/** What is needed to tell whether a request was sent by another site. */
export interface RequestOriginInfo {
  readonly method: string;
  /** The `Origin` header, if any. */
  readonly origin: string | undefined;
  /** The `Sec-Fetch-Site` header, if any. */
  readonly secFetchSite: string | undefined;
  /** This application's own origin as the request reached it (`https://app.example`). */
  readonly ownOrigin: string;
  /** Other origins allowed to send unsafe requests (exact `scheme://host[:port]`). */
  readonly allowedOrigins: readonly string[];
}

// RFC 9110 §9.2.1: these must not change state, so a cross-site one is harmless.
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * True when an unsafe request (POST, PUT, PATCH, DELETE, ...) was sent by another site: the
 * cross-site request forgery a session cookie would otherwise authenticate. Browsers describe the
 * sender in `Sec-Fetch-Site` (modern ones) and `Origin` (every unsafe request since 2020); both are
 * set by the browser, not by page scripts. `same-site` counts as cross-site: a sibling subdomain is
 * another application. A request with neither header did not come from a browser page (curl, a
 * server), which cookies-based CSRF needs, so it is let through (OWASP CSRF cheat sheet, "Verifying
 * origin with standard headers").
 */
export function isCrossSiteRequest(request: RequestOriginInfo): boolean {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return false;
  const allowed = (origin: string | undefined) =>
    origin !== undefined && (origin === request.ownOrigin || request.allowedOrigins.includes(origin));
  const site = request.secFetchSite?.trim().toLowerCase();
  if (site !== undefined && site !== '') {
    if (site === 'same-origin' || site === 'none') return false;
    return !allowed(request.origin);
  }
  if (request.origin === undefined) return false;
  // `Origin: null` comes from sandboxed frames, data: urls and some redirects: never trusted.
  return !allowed(request.origin);
}

/** What is needed to judge a WebSocket (or socket.io) handshake's sender. */
export type HandshakeOriginInfo = Omit<RequestOriginInfo, 'method'>;

/**
 * True when a WebSocket handshake was opened by a page of another site (cross-site WebSocket
 * hijacking): browsers send the user's cookies with it and no CORS check guards what the socket
 * then does. The handshake is a GET, but it opens a channel that acts for the user, so it is
 * judged as an unsafe request: the page's `Origin` (always sent by browsers on WebSocket
 * handshakes) must be the application's own or an allowed one; `Origin: null` never is. Without
 * `Origin` or `Sec-Fetch-Site` the client is not a browser page, and cannot borrow a user's cookie.
 */
export function isCrossSiteHandshake(handshake: HandshakeOriginInfo): boolean {
  return isCrossSiteRequest({ ...handshake, method: 'POST' });
}

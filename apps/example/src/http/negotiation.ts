import Negotiator from 'negotiator';

/**
 * Which answer a request wants, from its headers alone (`@Headers()`), so controllers need neither
 * the platform's request object nor `@Req()`. The rules are those of Express's `req.is()` and
 * `req.accepts()` (the same `negotiator` library), so a client sees what it saw before.
 */

/** The media type of a `Content-Type` header, lower-case and without parameters (`; charset=...`). */
export function mediaTypeOf(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';', 1)[0].trim().toLowerCase();
  return type === '' ? undefined : type;
}

/** The request body is JSON. */
export function sendsJson(contentType: string | undefined): boolean {
  return mediaTypeOf(contentType) === 'application/json';
}

/** The request body is an HTML form. */
export function sendsForm(contentType: string | undefined): boolean {
  return mediaTypeOf(contentType) === 'application/x-www-form-urlencoded';
}

/**
 * JSON when the client sends it or prefers it to HTML (`Accept`, with q-values); HTML otherwise,
 * including for a browser's `text/html,...,*\/*` and for no `Accept` at all.
 */
export function prefersJson(contentType: string | undefined, accept: string | undefined): boolean {
  if (sendsJson(contentType)) return true;
  return bestOf(accept, ['text/html', 'application/json']) === 'application/json';
}

/** The client takes HTML at all (no `Accept`, or one that allows `text/html`). */
export function acceptsHtml(accept: string | undefined): boolean {
  return bestOf(accept, ['text/html']) !== undefined;
}

function bestOf(accept: string | undefined, available: string[]): string | undefined {
  return new Negotiator({ headers: accept === undefined ? {} : { accept } }).mediaType(available);
}

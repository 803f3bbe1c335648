import type { IncomingHttpHeaders } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { BodyError } from './body-errors';
import { BODY_LIMIT_BYTES, FORM_FIELD_LIMIT } from './body-limits';

/*
 * The example's JSON and form parsers on Fastify, which reads the body (up to its `bodyLimit`)
 * and hands it over as a Buffer. They accept and refuse what the Express side's body-parser
 * does, with the same statuses and messages: compressed bodies are inflated (and limited after
 * inflating), a charset the parser cannot read is 415, a JSON body must be an object or an array
 * (an empty one is `{}`), and a form has at most FORM_FIELD_LIMIT fields.
 */

/** `application/json`. `__proto__` keys stay plain data (JSON.parse never sets a prototype). */
export function parseJsonBody(headers: IncomingHttpHeaders, body: Buffer): unknown {
  const charset = charsetOf(headers['content-type']) ?? 'utf-8';
  // JSON is Unicode (RFC 8259); body-parser reads every utf-* charset and refuses the rest.
  if (!charset.startsWith('utf-')) throw new BodyError(415, 'charset.unsupported');
  const text = decode(inflate(headers, body), charset).trim();
  if (text === '') return {};
  if (text[0] !== '{' && text[0] !== '[') throw new BodyError(400, 'entity.parse.failed');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BodyError(400, 'entity.parse.failed');
  }
}

/** `application/x-www-form-urlencoded`: flat fields (no `a[b]` nesting), repeated ones as arrays. */
export function parseFormBody(headers: IncomingHttpHeaders, body: Buffer): Record<string, string | string[]> {
  const charset = charsetOf(headers['content-type']) ?? 'utf-8';
  if (charset !== 'utf-8' && charset !== 'iso-8859-1') throw new BodyError(415, 'charset.unsupported');
  const text = decode(inflate(headers, body), charset);
  if (text === '') return {};
  if (fieldCount(text) > FORM_FIELD_LIMIT) throw new BodyError(413, 'parameters.too.many');
  // An ordinary object with the fields as own properties (a `__proto__` field is just data).
  return { ...parseQueryString(text) } as Record<string, string | string[]>;
}

/** The body as sent, undoing a `Content-Encoding` body-parser also undoes. */
function inflate(headers: IncomingHttpHeaders, body: Buffer): Buffer {
  const encoding = (headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity') return body;
  const inflater = INFLATERS[encoding];
  if (!inflater) throw new BodyError(415, 'encoding.unsupported');
  try {
    // Limited after inflating too: a few KB of gzip can hold gigabytes.
    return inflater(body, { maxOutputLength: BODY_LIMIT_BYTES });
  } catch (error) {
    if (error instanceof RangeError) throw new BodyError(413, 'entity.too.large');
    throw new BodyError(400, 'entity.parse.failed');
  }
}

const INFLATERS: Readonly<Record<string, (body: Buffer, options: { maxOutputLength: number }) => Buffer>> = {
  gzip: gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

function charsetOf(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return match?.[1].toLowerCase();
}

function decode(body: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset === 'iso-8859-1' ? 'latin1' : charset, { fatal: false }).decode(body);
  } catch {
    // A utf-* name TextDecoder does not know (utf-7, say).
    throw new BodyError(415, 'charset.unsupported');
  }
}

function fieldCount(text: string): number {
  let count = 1;
  for (let index = text.indexOf('&'); index !== -1; index = text.indexOf('&', index + 1)) count++;
  return count;
}

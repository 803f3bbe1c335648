import type { ServerResponse } from 'node:http';
import { SessionError, SessionStoreError } from '../core/errors';
import type { SessionHandle } from '../core/session';
import type { SessionManager } from '../core/session-manager';

/** Where the hook reports failures it handled. */
export interface CommitLogger {
  error(message: string, trace?: string): void;
}

/**
 * Makes the response wait for the session commit. Every way a Nest response leaves (returned
 * value, `@Redirect()`, `res.redirect()` under `@Res()`, an exception filter, a guard's rejection)
 * ends in `res.end()`, so that is where the store write is awaited; `Set-Cookie` is added in
 * `writeHead`, the last moment headers can change. A browser following a redirect therefore
 * always sees the new state. A store failure replaces the response with a 503, so a write the
 * handler made is never silently lost.
 */
export function commitBeforeResponse(
  response: ServerResponse,
  session: SessionHandle,
  manager: SessionManager,
  logger: CommitLogger,
): void {
  // The originals are always called with `.apply(response, ...)`, so detaching them is safe.
  /* eslint-disable @typescript-eslint/unbound-method */
  const writeHead = response.writeHead as (...args: unknown[]) => ServerResponse;
  const end = response.end as (...args: unknown[]) => ServerResponse;
  /* eslint-enable @typescript-eslint/unbound-method */
  let cookieDecided = false;
  let ending = false;

  response.writeHead = function writeHeadWithSessionCookie(this: ServerResponse, ...args: unknown[]) {
    if (!cookieDecided) {
      cookieDecided = true;
      const cookie = manager.setCookieHeader(session);
      if (cookie !== undefined) addSetCookie(this, args, cookie);
    }
    return writeHead.apply(this, args);
  };

  response.end = function endAfterCommit(this: ServerResponse, ...args: unknown[]) {
    if (ending) return this;
    ending = true;
    // From the application's point of view the response is finished: an exception filter that
    // runs while the commit is pending must see it as sent, not write a second status and headers
    // over the first response (Nest checks `headersSent`).
    Object.defineProperty(response, 'headersSent', { configurable: true, get: () => true });
    const finish = (): void => {
      delete (response as { headersSent?: boolean }).headersSent;
    };
    manager.commit(session).then(
      () => {
        finish();
        try {
          end.apply(response, args);
        } catch (error) {
          // e.g. res.end(123): without the hook Node would have thrown synchronously (a 500).
          logger.error(`Ending the response failed: ${error instanceof Error ? error.message : String(error)}`);
          response.destroy(error instanceof Error ? error : undefined);
        }
      },
      (error: unknown) => {
        finish();
        cookieDecided = true; // a session that was not saved must not be handed to the browser
        answerCommitFailure(response, end, error, logger);
      },
    );
    return this;
  } as ServerResponse['end'];
}

/**
 * Adds the session cookie to the headers being written. `writeHead(status, headers)` replaces
 * any header set before with the same name, so a `Set-Cookie` passed there would silently drop
 * ours (and with it a login): merge into the headers argument when there is one.
 */
function addSetCookie(response: ServerResponse, args: unknown[], cookie: string): void {
  const headers = args.findLast((arg) => typeof arg === 'object' && arg !== null);
  if (Array.isArray(headers)) {
    // Raw form: [name, value, name, value, ...] or [[name, value], ...].
    if (headers.length > 0 && Array.isArray(headers[0])) (headers as unknown[]).push(['Set-Cookie', cookie]);
    else (headers as unknown[]).push('Set-Cookie', cookie);
    return;
  }
  if (headers) {
    const record = headers as Record<string, unknown>;
    const name = Object.keys(record).find((key) => key.toLowerCase() === 'set-cookie');
    if (name !== undefined) {
      const existing = record[name];
      record[name] = [...(Array.isArray(existing) ? (existing as unknown[]) : [existing]), cookie];
      return;
    }
  }
  response.appendHeader('Set-Cookie', cookie);
}

function answerCommitFailure(
  response: ServerResponse,
  end: (...args: unknown[]) => ServerResponse,
  error: unknown,
  logger: CommitLogger,
): void {
  const storeFailed = error instanceof SessionStoreError;
  logger.error(
    `Session commit failed: ${error instanceof Error ? error.message : String(error)}`,
    error instanceof Error ? error.stack : undefined,
  );
  if (response.headersSent) {
    // Streaming responses have sent their status already: cutting the connection is the only
    // way left to tell the client the request did not fully succeed.
    response.destroy(error instanceof Error ? error : undefined);
    return;
  }
  const status = storeFailed ? 503 : 500;
  const body = JSON.stringify(
    storeFailed
      ? { statusCode: 503, error: 'Service Unavailable', message: 'Session store unavailable, please retry shortly' }
      : { statusCode: 500, error: 'Internal Server Error', message: developerMessage(error) },
  );
  for (const name of response.getHeaderNames()) response.removeHeader(name);
  response.statusCode = status;
  response.setHeader('Content-Type', 'application/json; charset=utf-8');
  response.setHeader('Content-Length', Buffer.byteLength(body));
  response.setHeader('Cache-Control', 'no-store');
  if (storeFailed) response.setHeader('Retry-After', '5');
  end.call(response, body);
}

/**
 * Outside production, a library error the developer must fix (a session too large for its cookie)
 * says so in the response, where it is seen at once; in production the body stays generic and
 * the message goes to the log only.
 */
function developerMessage(error: unknown): string {
  if (process.env.NODE_ENV !== 'production' && error instanceof SessionError) return error.message;
  return 'Internal server error';
}

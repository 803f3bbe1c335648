import { ServerResponse } from 'node:http';
import type { SessionHandle } from '../../core/session';
import type { SessionManager } from '../../core/session-manager';
import { commitFailureAnswer, type CommitFailureAnswer } from '../http/commit-failure';
import type { CommitLogger } from '../http/session-http-platform';

type ResponseMethod = (...args: unknown[]) => ServerResponse;

/** What one response's hooks need: its session, and how far the response has got. */
interface PendingCommit {
  readonly session: SessionHandle;
  readonly manager: SessionManager;
  readonly logger: CommitLogger;
  /** The `Set-Cookie` decision was made (in writeHead, or withheld after a failed commit). */
  cookieDecided: boolean;
  /** `end()` was called once already. */
  ending: boolean;
}

const COMMIT = Symbol('session commit');

type HookedResponse = ServerResponse & { [COMMIT]?: PendingCommit };

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
  (response as HookedResponse)[COMMIT] = { session, manager, logger, cookieDecided: false, ending: false };
  if (hooksInherited(response)) return;
  // The originals are always called with `.apply(response, ...)`, so detaching them is safe.
  /* eslint-disable @typescript-eslint/unbound-method */
  const hooks = createHooks(response.writeHead as ResponseMethod, response.end as ResponseMethod);
  /* eslint-enable @typescript-eslint/unbound-method */
  response.writeHead = hooks.writeHead;
  response.end = hooks.end as ServerResponse['end'];
}

const prototypesWithHooks = new WeakSet<object>();

/**
 * Puts the hooks on the response's prototype (Express makes one per application), once, rather
 * than two new closures on every response; they act only on responses the middleware marked.
 * False when a middleware that ran earlier already replaced `writeHead` or `end` on this response
 * (compression, say): the hooks must then wrap those, on the response itself, as they always did.
 */
function hooksInherited(response: ServerResponse): boolean {
  if (Object.hasOwn(response, 'end') || Object.hasOwn(response, 'writeHead')) return false;
  const prototype = Object.getPrototypeOf(response) as object | null;
  if (prototype === null) return false;
  if (prototypesWithHooks.has(prototype)) return true;
  if (prototype === ServerResponse.prototype || !(prototype instanceof ServerResponse)) return false;
  const target = prototype as ServerResponse;
  /* eslint-disable @typescript-eslint/unbound-method */
  const hooks = createHooks(target.writeHead as ResponseMethod, target.end as ResponseMethod);
  /* eslint-enable @typescript-eslint/unbound-method */
  Object.defineProperty(prototype, 'writeHead', { configurable: true, writable: true, value: hooks.writeHead });
  Object.defineProperty(prototype, 'end', { configurable: true, writable: true, value: hooks.end });
  prototypesWithHooks.add(prototype);
  return true;
}

/** `writeHead` and `end` that commit the session of a marked response, then call the originals. */
function createHooks(writeHead: ResponseMethod, end: ResponseMethod): { writeHead: ResponseMethod; end: ResponseMethod } {
  return {
    writeHead: function writeHeadWithSessionCookie(this: HookedResponse, ...args: unknown[]) {
      const commit = this[COMMIT];
      if (commit && !commit.cookieDecided) {
        commit.cookieDecided = true;
        const cookie = commit.manager.setCookieHeader(commit.session);
        if (cookie !== undefined) addSetCookie(this, args, cookie);
      }
      return writeHead.apply(this, args);
    },

    end: function endAfterCommit(this: HookedResponse, ...args: unknown[]) {
      const commit = this[COMMIT];
      if (!commit) return end.apply(this, args);
      if (commit.ending) return this;
      commit.ending = true;
      let pending: Promise<void> | undefined;
      try {
        pending = commit.manager.commitNow(commit.session);
      } catch (error) {
        pending = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      // Nothing to write (an unchanged or anonymous session, or a client-side one): end at once.
      if (pending === undefined) return end.apply(this, args);
      endAfter(pending, this, commit, end, args);
      return this;
    },
  };
}

/** Ends the response once the commit settled, or answers 503/500 in its place when it failed. */
function endAfter(pending: Promise<void>, response: ServerResponse, commit: PendingCommit, end: ResponseMethod, args: unknown[]): void {
  // From the application's point of view the response is finished: an exception filter that runs
  // while the commit is pending must see it as sent, not write a second status and headers over
  // the first response (Nest checks `headersSent`).
  Object.defineProperty(response, 'headersSent', { configurable: true, get: () => true });
  const finish = (): void => {
    delete (response as { headersSent?: boolean }).headersSent;
  };
  pending.then(
    () => {
      finish();
      try {
        end.apply(response, args);
      } catch (error) {
        // e.g. res.end(123): without the hook Node would have thrown synchronously (a 500).
        commit.logger.error(`Ending the response failed: ${error instanceof Error ? error.message : String(error)}`);
        response.destroy(error instanceof Error ? error : undefined);
      }
    },
    (error: unknown) => {
      finish();
      commit.cookieDecided = true; // a session that was not saved must not be handed to the browser
      answerCommitFailure(response, end, commitFailureAnswer(error, commit.session, commit.manager, commit.logger), error);
    },
  );
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

/** Replaces the response with the failure answer, or cuts it when its status has left already. */
function answerCommitFailure(response: ServerResponse, end: ResponseMethod, answer: CommitFailureAnswer, error: unknown): void {
  if (response.headersSent) {
    // Streaming responses have sent their status already: cutting the connection is the only
    // way left to tell the client the request did not fully succeed.
    response.destroy(error instanceof Error ? error : undefined);
    return;
  }
  for (const name of response.getHeaderNames()) response.removeHeader(name);
  response.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) response.setHeader(name, value);
  end.call(response, answer.body);
}

import type { ServerResponse } from 'node:http';
import type { SessionHandle } from '../../core/session';
import type { SessionManager } from '../../core/session-manager';
import { commitFailureAnswer, type CommitFailureAnswer } from '../http/commit-failure';
import type { CommitLogger } from '../http/session-http-platform';
import type { FastifyReplyLike, OnSendHook } from './fastify-types';

const COMMIT = Symbol('session commit');

/** What the `onSend` hook needs of one response: its session, the manager, where to log. */
interface PendingCommit {
  readonly session: SessionHandle;
  readonly manager: SessionManager;
  readonly logger: CommitLogger;
}

type MarkedResponse = ServerResponse & { [COMMIT]?: PendingCommit };

/** Marks a response (`reply.raw`, which the session middleware receives) for {@link commitOnSend}. */
export function markForCommit(response: ServerResponse, session: SessionHandle, manager: SessionManager, logger: CommitLogger): void {
  (response as MarkedResponse)[COMMIT] = { session, manager, logger };
}

/**
 * Fastify's `onSend` hook, added once per application: every `reply.send()` (a returned value,
 * `@Redirect()`, `reply.redirect()` under `@Res()`, an exception filter, a guard's rejection, a
 * stream) passes through it before its status and headers are written. The store write is
 * awaited here, so a browser following a redirect always sees the new state; `Set-Cookie` is
 * appended (Fastify keeps every `set-cookie` value, so the application's own cookies stay); and a
 * failed commit replaces the answer with 503 (409 for a session ended elsewhere), even for a
 * stream, whose headers have not left yet.
 */
export const commitOnSend: OnSendHook = (_request, reply, payload, done) => {
  const response = reply.raw as MarkedResponse;
  const commit = response[COMMIT];
  // Not a session route, or already committed (an error reply sent after a first one failed).
  if (commit === undefined) return done(null, payload);
  response[COMMIT] = undefined;
  let pending: Promise<void> | undefined;
  try {
    pending = commit.manager.commitNow(commit.session);
  } catch (error) {
    pending = Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
  // Nothing to write (an unchanged or anonymous session, or a client-side one): no promise to wait for.
  if (pending === undefined) {
    addSessionCookie(reply, commit);
    return done(null, payload);
  }
  pending.then(
    () => {
      addSessionCookie(reply, commit);
      done(null, payload);
    },
    (error: unknown) => {
      done(null, replaceAnswer(reply, payload, commitFailureAnswer(error, commit.session, commit.manager, commit.logger)));
    },
  );
};

function addSessionCookie(reply: FastifyReplyLike, commit: PendingCommit): void {
  const cookie = commit.manager.setCookieHeader(commit.session);
  if (cookie !== undefined) reply.header('set-cookie', cookie);
}

/** The failure answer in place of the handler's: its status, every header, its body. */
function replaceAnswer(reply: FastifyReplyLike, payload: unknown, answer: CommitFailureAnswer): string {
  // A stream the handler returned is not sent: release what it reads from.
  if (payload !== null && typeof payload === 'object' && typeof (payload as { destroy?: unknown }).destroy === 'function') {
    (payload as { destroy(): void }).destroy();
  }
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  reply.code(answer.status);
  for (const [name, value] of Object.entries(answer.headers)) reply.header(name, value);
  return answer.body;
}

import { latestSession, type SessionHandle } from '../../core/session';
import { sessionManagerOf, type SessionAwareRequest } from './request-binding';

const ASSIGNED = Symbol('session');

/** The object a platform keeps a request's session on (Express: the request; Fastify: `request.raw`). */
export type SessionSlot = SessionAwareRequest & { [ASSIGNED]?: SessionHandle | null };

/** Puts the loaded session in the slot. */
export function fillSessionSlot(slot: SessionSlot, session: SessionHandle): void {
  slot[ASSIGNED] = session;
}

/**
 * What `req.session` reads: always the live session. After `regenerate()` (express-session
 * semantics) that is the replacement, which passport and express-session code read right after
 * the call.
 */
export function readSessionSlot(slot: SessionSlot): SessionHandle | null | undefined {
  const assigned = slot[ASSIGNED];
  return assigned ? latestSession(assigned) : assigned;
}

/** What `req.session = value` does: `null` ends the session, as in cookie-session (both modes). */
export function writeSessionSlot(slot: SessionSlot, value: SessionHandle | null | undefined): void {
  const assigned = slot[ASSIGNED];
  if (value === null && assigned) sessionManagerOf(slot)?.discard(assigned);
  slot[ASSIGNED] = value;
}

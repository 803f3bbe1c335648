import type { SessionIndex } from './session-index';

/** The session that was just signed in, which the limit is enforced for. */
export interface SignedInSession {
  readonly userId: string;
  readonly key: string;
  readonly createdAt: number;
}

/**
 * `maxSessionsPerUser`: once a new session of a user is recorded, the user's oldest sessions go
 * until no more than `limit` are left. Sessions are ranked by sign-in time (then key), the new
 * one included, and only sessions older than it are evicted: two sign-ins at the same moment
 * never evict each other (the later one evicts the earlier), and the new session is never
 * evicted by its own sign-in. If the eviction fails, `undo` removes the new session again (best
 * effort) before the failure is reported, so a sign-in answered with 503 leaves no half-made
 * session behind.
 */
export async function enforceSessionLimit(
  index: SessionIndex,
  limit: number | undefined,
  signedIn: SignedInSession,
  undo: () => Promise<void>,
): Promise<void> {
  if (limit === undefined) return;
  try {
    const sessions = (await index.list(signedIn.userId)).filter((found) => found.key !== signedIn.key);
    const excess = sessions.length + 1 - limit;
    if (excess <= 0) return;
    const older = sessions.filter((found) => compareAge(found.key, found.record.createdAt, signedIn.key, signedIn.createdAt) < 0);
    older.sort((a, b) => compareAge(a.key, a.record.createdAt, b.key, b.record.createdAt));
    for (const oldest of older.slice(0, excess)) await index.revoke(oldest, 'max-sessions');
  } catch (error) {
    await undo().catch(() => undefined);
    throw error;
  }
}

/** Orders sessions by sign-in time, then key, so two sessions never tie. */
function compareAge(keyA: string, createdA: number, keyB: string, createdB: number): number {
  if (createdA !== createdB) return createdA - createdB;
  return keyA < keyB ? -1 : keyA > keyB ? 1 : 0;
}

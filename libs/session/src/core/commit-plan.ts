import { isTouchDue, type ExpiryPolicy } from './expiry';
import { diffSnapshots, type DataDiff, type DataSnapshot } from './session-diff';
import type { SessionInternals } from './session';

/**
 * What a request's session needs written when it ends (both modes):
 * - `none`: nothing (the one rule below says no write is due);
 * - `create`: the whole session (new, or never read: no snapshot to compare with);
 * - `update`: an existing session whose write is due; `diff` says which keys changed, and
 *   `changesData` whether anything of its own changed (data or cookie lifetime) rather than only
 *   its lifetime being extended (a touch).
 */
export type CommitPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'create'; readonly snapshot: DataSnapshot }
  | { readonly kind: 'update'; readonly snapshot: DataSnapshot; readonly diff: DataDiff; readonly changesData: boolean };

/** The part of a session's bookkeeping the plan reads. */
export type PlanInput = Pick<SessionInternals, 'isNew' | 'persisted' | 'cookieMaxAgeChanged' | 'touchRequested' | 'createdAt' | 'touchedAt'>;

const NOTHING: CommitPlan = { kind: 'none' };

/**
 * The one "is a write due" rule: a new session is written; an existing one when its data or its
 * cookie lifetime changed, when a touch was asked for (`session.touch()`, an owner to record),
 * or when its recorded last activity is older than the touch interval. Pure: `snapshot` is the
 * session's data as it is now.
 */
export function planCommit(state: PlanInput, snapshot: DataSnapshot, now: number, policy: ExpiryPolicy): CommitPlan {
  if (state.isNew || state.persisted === undefined) return { kind: 'create', snapshot };
  const diff = diffSnapshots(state.persisted, snapshot);
  const changesData = diff.changed.length > 0 || diff.removed.length > 0 || state.cookieMaxAgeChanged;
  if (!changesData && !state.touchRequested && !isTouchDue(state, now, policy)) return NOTHING;
  return { kind: 'update', snapshot, diff, changesData };
}

/** Whether the plan changes an existing session's own data or cookie lifetime (not just its lifetime). */
export function changesExistingSession(state: Pick<SessionInternals, 'isNew'>, plan: CommitPlan): boolean {
  return !state.isNew && (plan.kind === 'create' || (plan.kind === 'update' && plan.changesData));
}

import type { ExampleSession } from '../auth/session-user';

/** Counts one visit in the session and returns the count: `POST /visits` and `mutation { visit }` share it. */
export function countVisit(session: ExampleSession): number {
  session.visits = (session.visits ?? 0) + 1;
  return session.visits;
}

import type { Session, SessionUser } from '@app/session';
import type { Viewer } from '../pages/html';

/** What the example keeps in the session about the signed-in user. */
export interface ExampleUser extends SessionUser {
  readonly id: string;
  readonly username: string;
  readonly roles: readonly string[];
}

/** The example's session data. */
export interface ExampleSessionData {
  user: ExampleUser;
  /** The page to return to after login, remembered by `GET /login?returnTo=`. */
  returnTo: string;
  visits: number;
}

/** The example's typed session. */
export type ExampleSession = Session<ExampleSessionData>;

/** The signed-in viewer of a session, for page rendering. */
export function viewerOf(session: ExampleSession): Viewer | undefined {
  const user = session.user;
  return user ? { username: user.username, roles: user.roles } : undefined;
}

/** Why a session ended, as its sockets are told (`session-ended`): the lifecycle event's reason. */
export type SessionEndReason =
  | 'logout'
  | 'destroy'
  | 'regenerate'
  | 'discard'
  | 'login'
  | 'revoked'
  | 'revoke-all'
  | 'max-sessions'
  | 'idle-timeout'
  | 'absolute-timeout'
  /** Found gone when rechecked (expired in the store, or ended where no event reached this instance). */
  | 'ended';

/**
 * Tells every instance of an application that a session ended, so each closes the sockets it
 * holds for it (a logout on instance A closes the socket held on instance B). The library
 * ships one over Redis publish/subscribe (`RedisEndedSessionBroadcast`); anything with
 * publish/subscribe can implement it. Messages name a session by its store key (the SHA-256 of
 * its id), never by the id.
 */
export interface EndedSessionBroadcast {
  /** Tells every instance, this one included, that the session under `key` ended. */
  publish(key: string, reason: SessionEndReason): Promise<void>;
  /**
   * Calls `listener` for every session any instance reports ended. Resolves once listening;
   * the function it resolves to stops listening.
   */
  subscribe(listener: (key: string, reason: SessionEndReason) => void): Promise<() => Promise<void>>;
}

const REASONS: ReadonlySet<string> = new Set<SessionEndReason>([
  'logout', 'destroy', 'regenerate', 'discard', 'login', 'revoked', 'revoke-all', 'max-sessions', 'idle-timeout', 'absolute-timeout', 'ended',
]);

/** Store keys are SHA-256 digests in base64url. */
const STORE_KEY = /^[A-Za-z0-9_-]{43}$/;

/** The wire form of one message: `<reason> <key>`. */
export function encodeEndedSession(key: string, reason: SessionEndReason): string {
  return `${reason} ${key}`;
}

/** A message read back; undefined for anything that is not one (another publisher on the channel). */
export function decodeEndedSession(message: string): { key: string; reason: SessionEndReason } | undefined {
  const space = message.indexOf(' ');
  const reason = message.slice(0, space);
  const key = message.slice(space + 1);
  return space > 0 && REASONS.has(reason) && STORE_KEY.test(key) ? { key, reason: reason as SessionEndReason } : undefined;
}

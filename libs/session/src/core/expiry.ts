/** The server-side lifetime rules of a session, all in milliseconds. */
export interface ExpiryPolicy {
  /** A session unused for this long is dead. */
  readonly idleTimeout: number;
  /** A session older than this is dead, however active. */
  readonly absoluteTimeout: number;
  /**
   * How stale the recorded last activity may get before a request refreshes it. Refreshing on
   * every request would turn every read into a store write; the cost is that the idle timeout
   * is enforced with this much slack.
   */
  readonly touchInterval: number;
}

/** The timestamps a session's lifetime is computed from (ms since the epoch). */
export interface SessionTimestamps {
  readonly createdAt: number;
  readonly touchedAt: number;
}

/** Upper bound of {@link ExpiryPolicy.touchInterval}: one minute of slack on the idle timeout. */
export const MAX_TOUCH_INTERVAL = 60_000;

/** Derives the expiry policy from the two timeouts. */
export function createExpiryPolicy(idleTimeout: number, absoluteTimeout: number): ExpiryPolicy {
  return {
    idleTimeout,
    absoluteTimeout,
    touchInterval: Math.min(MAX_TOUCH_INTERVAL, Math.floor(idleTimeout / 10)),
  };
}

/** The instant the session dies unless it is used again: the earlier of idle and absolute. */
export function computeExpiresAt(timestamps: SessionTimestamps, policy: ExpiryPolicy): number {
  return Math.min(
    timestamps.touchedAt + policy.idleTimeout,
    timestamps.createdAt + policy.absoluteTimeout,
  );
}

/**
 * True when the session is past its idle or absolute deadline. Timestamps from the future (clock
 * skew between instances, or a tampered record) and timestamps that are not finite numbers are
 * treated as expired rather than trusted.
 */
export function isExpired(timestamps: SessionTimestamps, now: number, policy: ExpiryPolicy): boolean {
  // A store that hands back strings (a BIGINT column) or garbage must not switch expiry off:
  // `"1700000000000" + 1800000` is a string concatenation, not a deadline.
  if (!Number.isFinite(timestamps.createdAt) || !Number.isFinite(timestamps.touchedAt)) return true;
  if (timestamps.createdAt > now + policy.touchInterval || timestamps.touchedAt > now + policy.touchInterval) {
    return true;
  }
  return now >= computeExpiresAt(timestamps, policy);
}

/** True when the recorded last activity is stale enough to be refreshed in the store. */
export function isTouchDue(timestamps: SessionTimestamps, now: number, policy: ExpiryPolicy): boolean {
  return now - timestamps.touchedAt >= policy.touchInterval;
}

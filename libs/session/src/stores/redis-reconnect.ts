/** The errors node-redis reports for an attempt that timed out (`socketTimeout`, `connectTimeout`). */
const TIMEOUT_ERRORS = new Set(['SocketTimeoutError', 'ConnectionTimeoutError']);

/** First delay after refused connections, doubling up to the cap; jittered over its upper half. */
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 500;
/** The jitter after a timed-out attempt, which has already waited its own timeout. */
const AFTER_TIMEOUT_JITTER_MS = 50;

/**
 * A node-redis `socket.reconnectStrategy` for a client RedisStore uses, with which the store is
 * back within a second of Redis, whatever the outage:
 *
 * - Refused or failed connections (Redis restarting, a failover): 25-50 ms, doubling up to a cap
 *   of 250-500 ms ("equal jitter", so a fleet coming back does not reconnect in step). node-redis's
 *   default waits up to 2 s plus 200 ms, which kept requests failing for up to a second after
 *   Redis was back.
 * - An attempt that timed out (`socketTimeout` on a connection or a handshake that hangs,
 *   `connectTimeout` on a SYN lost in a partition): 0-50 ms. That attempt already waited its own
 *   timeout, which spaces the attempts out; a backoff on top of it would leave a partition that
 *   has healed unused for up to the whole backoff. node-redis's default gives up after a socket
 *   timeout altogether.
 *
 * node-redis passes the error that ended the last attempt; it is told apart by its class name, so
 * the library needs no import of `redis`.
 *
 * @example
 * createClient({ url, pingInterval: 200, socket: { socketTimeout: 400, connectTimeout: 400, reconnectStrategy: redisReconnectStrategy } });
 */
export function redisReconnectStrategy(retries: number, cause?: unknown): number {
  const failure = typeof cause === 'object' && cause !== null ? cause.constructor?.name : undefined;
  if (failure !== undefined && TIMEOUT_ERRORS.has(failure)) return Math.round(Math.random() * AFTER_TIMEOUT_JITTER_MS);
  const backoff = Math.min(FIRST_BACKOFF_MS * 2 ** Math.max(0, retries), MAX_BACKOFF_MS);
  return Math.round(backoff / 2 + Math.random() * (backoff / 2));
}

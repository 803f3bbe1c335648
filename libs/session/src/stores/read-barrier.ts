/**
 * Confirms that a copy kept from an invalidating server (Redis `CLIENT TRACKING`) is still
 * current before it is served, for all the reads of one moment with one round trip.
 *
 * Why a round trip at all: Redis queues the invalidation message for every tracking connection
 * when a write runs, before the writer gets its reply, but nothing makes that message reach this
 * process before a request that causally follows the write (the writer answered its client, the
 * client asked this instance). On a busy machine the message was seen to arrive milliseconds
 * after such a request had been answered from the stale copy: a logout on instance A, the old
 * cookie still accepted on instance B. A PING written after the request arrived is answered after
 * everything Redis queued for the connection before it, invalidations included (one connection
 * delivers in order), so once it is answered the cache holds no copy older than the request.
 *
 * Why it stays cheap: every caller until the PING is written shares it. node-redis writes the
 * commands of a turn of the event loop together (in a `setImmediate`); the barrier stops taking
 * new callers in a `setImmediate` scheduled after the PING's write, so a caller always waits for a
 * PING written after it called, and under load one PING confirms the reads of a whole turn.
 */
export class ReadBarrier {
  readonly #ping: () => Promise<unknown>;
  /** The PING that callers of this turn share; undefined once written (see the class comment). */
  #open: Promise<void> | undefined;

  /** `ping` sends one round trip on the connection the invalidations arrive on. */
  constructor(ping: () => Promise<unknown>) {
    this.#ping = ping;
  }

  /** Resolves once a round trip written after this call has been answered; rejects if it fails. */
  pass(): Promise<void> {
    let open = this.#open;
    if (open === undefined) {
      open = this.#open = this.#ping().then(() => undefined);
      // Scheduled after the ping() call above, so it runs after node-redis's own write of it.
      setImmediate(() => {
        if (this.#open === open) this.#open = undefined;
      });
    }
    return open;
  }
}

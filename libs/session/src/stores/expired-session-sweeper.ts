/** Default interval of the SQL stores' expired-session sweep: 15 minutes. */
export const DEFAULT_CLEANUP_INTERVAL = 15 * 60_000;

/** Longest delay a Node timer accepts (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMER_DELAY = 2_147_483_647;

/** The problem with a `cleanupInterval` option, or undefined when it is valid. */
export function cleanupIntervalProblem(store: string, value: unknown): string | undefined {
  if (value === false) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_TIMER_DELAY) return undefined;
  return `${store} cleanupInterval: must be false or a whole number of milliseconds from 1 to ${MAX_TIMER_DELAY} (got ${String(value)})`;
}

/**
 * Runs a store's expired-session sweep in the background every `interval` ms. Expired sessions
 * are never returned anyway, so the sweep only reclaims space; it must therefore cost nothing
 * else: the timer never keeps the process alive, a slow sweep never overlaps the next one (a chain
 * of timeouts, not setInterval), a failure goes to `onError` and the next sweep tries again, and
 * `stop()` (the store's `close()`, which SessionModule calls on shutdown) waits for a sweep in
 * progress, which stops between batches.
 */
export class ExpiredSessionSweeper {
  readonly #interval: number | false;
  readonly #sweep: (shouldStop: () => boolean) => Promise<unknown>;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  /**
   * @param interval ms between sweeps, or false for none (the application runs them itself).
   * @param sweep deletes expired sessions; it should check `shouldStop()` between batches.
   */
  constructor(
    interval: number | false,
    sweep: (shouldStop: () => boolean) => Promise<unknown>,
    onError: (error: unknown) => void,
  ) {
    this.#interval = interval;
    this.#sweep = sweep;
    this.#onError = onError;
    this.#schedule();
  }

  /** Stops the timer and waits for a sweep in progress to end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #schedule(): void {
    if (this.#interval === false || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#sweep(() => this.#stopped)
        .then(
          () => undefined,
          (error: unknown) => this.#onError(error),
        )
        // A throwing error handler must not become an unhandled rejection on a timer.
        .catch(() => undefined)
        .finally(() => {
          this.#running = undefined;
          this.#schedule();
        });
    }, this.#interval);
    this.#timer.unref();
  }
}

import { SessionStoreError } from '../core/errors';

/**
 * `patch.revision` as a store may name it in SQL or a script: absent, or a whole number >= 0.
 * @throws SessionStoreError naming `store` for anything else (nothing is written).
 */
export function checkPatchRevision(store: string, revision: unknown): number | undefined {
  if (revision === undefined) return undefined;
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) {
    throw new SessionStoreError(`${store}: patch.revision must be a whole number >= 0 when given (got ${typeof revision === 'number' ? String(revision) : typeof revision})`);
  }
  return revision;
}

/** What one update reports: its result, and the revision it left the record at when known. */
export interface UpdateOutcome<T> {
  readonly result: T;
  /** The record's revision after this update, when the store knows it exactly. */
  readonly revision?: number;
}

interface QueuedUpdate {
  /** Settles when the update does, or one operation timeout after it started, whichever is first. */
  readonly done: Promise<void>;
  revision: number | undefined;
}

/**
 * Runs the updates of one session key one after another within this process, each on the
 * revision the previous one left.
 *
 * Why: an update names the revision its request loaded (`SessionPatch.revision`), so that a
 * statement delivered late changes nothing. Concurrent requests of one session (a page firing
 * several requests at once) all loaded the same revision: one applies, the others find a newer
 * revision and try again, and n such writers cost O(n²) round trips (in the benchmark, 16
 * concurrent writes to one session cut POST throughput by 3 to 4 times). The server serializes
 * writes to one record anyway (a row lock, Redis's single thread); queued here, each update names
 * the revision its predecessor reported, so writers within one instance never conflict. Writers
 * on other instances still can, and then retry as before.
 *
 * Safe: the revision an update names is one the record had when the update was sent (its
 * predecessor's reply came first), never a guess ahead, so a late delivery still changes nothing.
 * A predecessor that failed or timed out reports no revision; the next update then names the one
 * its request loaded. Entries go when their queue empties, so memory follows the writes in flight.
 *
 * Never stuck: an update is waited for at most one operation timeout from when it started. A
 * store's operation rejects at its timeout, but the work under it may never settle (a statement
 * on a connection dropped in a partition, which the driver never fails); were the next update to
 * wait for that, the session could never be written again. The next one then goes ahead as after
 * a timeout, naming the revision its own request loaded: the late statement, if it ever lands,
 * changes nothing.
 */
export class SerializedUpdates {
  readonly #queues = new Map<string, QueuedUpdate>();
  readonly #operationTimeout: number;

  /** @param operationTimeout - The store's operation timeout (ms): the longest wait on a predecessor. */
  constructor(operationTimeout: number) {
    this.#operationTimeout = operationTimeout;
  }

  /**
   * Runs `update` once every earlier update of `key` in this process has settled, passing the
   * revision to name: the later of `revision` (what the request loaded) and the revision the
   * previous update reported; `undefined` stays `undefined` (an unconditional update).
   */
  async run<T>(
    key: string,
    revision: number | undefined,
    update: (revision: number | undefined) => Promise<UpdateOutcome<T>>,
  ): Promise<T> {
    const previous = this.#queues.get(key);
    let settle!: () => void;
    const entry: QueuedUpdate = { done: new Promise<void>((resolve) => (settle = resolve)), revision: undefined };
    this.#queues.set(key, entry);
    let giveUp: NodeJS.Timeout | undefined;
    try {
      if (previous) await previous.done;
      // Counted from here, when this update starts (its wait on a predecessor is bounded alike).
      giveUp = setTimeout(settle, this.#operationTimeout);
      giveUp.unref();
      const known = previous?.revision;
      const named = revision === undefined || known === undefined ? revision : Math.max(revision, known);
      const outcome = await update(named);
      entry.revision = outcome.revision;
      return outcome.result;
    } finally {
      clearTimeout(giveUp);
      settle();
      if (this.#queues.get(key) === entry) this.#queues.delete(key);
    }
  }

  /** Keys with updates in flight (for tests). */
  get size(): number {
    return this.#queues.size;
  }
}

import { rememberBounded } from '../core/bounded-memo';

/**
 * A bounded map of values read from a server that tells the process when they change (Redis
 * `CLIENT TRACKING`): entries live until invalidated, evicted (oldest written first) or cleared.
 *
 * The one race to close is a read that was answered before a change but whose answer is handled
 * after the change's invalidation: its value must not be kept. `beginFill()` hands out a token
 * before the read is sent, an invalidation of the key (or of everything) withdraws it, and
 * `completeFill()` keeps the value only if the token is still the current one.
 */
export class InvalidatedCache<V> {
  readonly #entries = new Map<string, V>();
  readonly #fills = new Map<string, symbol>();
  readonly #maxEntries: number;

  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer (got ${String(maxEntries)})`);
    }
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    return this.#entries.get(key);
  }

  /** Call before sending the read whose answer may be kept. */
  beginFill(key: string): symbol {
    const token = Symbol(key);
    this.#fills.set(key, token);
    return token;
  }

  /** Keeps `value` unless the key was invalidated (or another fill began) since `beginFill()`. */
  completeFill(key: string, token: symbol, value: V): void {
    if (this.#fills.get(key) !== token) return;
    this.#fills.delete(key);
    rememberBounded(this.#entries, key, value, this.#maxEntries);
  }

  /** A read that failed: nothing to keep. */
  abandonFill(key: string, token: symbol): void {
    if (this.#fills.get(key) === token) this.#fills.delete(key);
  }

  /** The server said `key` changed; `null` means anything may have (a flush, a lost connection). */
  invalidate(key: string | null): void {
    if (key === null) {
      this.#entries.clear();
      this.#fills.clear();
      return;
    }
    this.#entries.delete(key);
    this.#fills.delete(key);
  }
}

import { performance } from 'node:perf_hooks';
import type { Response } from 'supertest';
import {
  hashSessionId,
  MemoryStore,
  type SessionPatch,
  type SessionRecord,
  type SessionStore,
} from '@app/session';

/** Test-only secrets (never used outside tests): at least 32 bytes, as the options require. */
export const TEST_SECRET = 'test-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

/** The five operations of the `SessionStore` contract. */
export type StoreOperation = 'get' | 'set' | 'update' | 'destroy' | 'touch';

/** Operations that change what the store holds. */
export const WRITE_OPERATIONS: readonly StoreOperation[] = ['set', 'update', 'destroy', 'touch'];
/** Operations that write session data (a new record, or changed keys of an existing one). */
export const DATA_WRITES: readonly StoreOperation[] = ['set', 'update'];
const ALL_OPERATIONS: readonly StoreOperation[] = ['get', 'set', 'update', 'destroy', 'touch'];

/** One call a test store received, with `performance.now()` timings. */
export interface StoreCall {
  readonly operation: StoreOperation;
  readonly key: string;
  /** The patch of an `update` call. */
  readonly patch: SessionPatch | undefined;
  readonly startedAt: number;
  /** When the returned promise settled; undefined while it is pending. */
  finishedAt: number | undefined;
  outcome: 'pending' | 'resolved' | 'rejected';
}

/** Milliseconds to wait, per operation, before a call reaches the wrapped store. */
export type StoreDelays = Partial<Record<StoreOperation, number>>;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Wraps a store (a fresh `MemoryStore` by default) and records every call with its timing, so a
 * test can tell which writes a request made and whether they finished before its response.
 * Each operation can be delayed, to make "the response waited for the store" observable.
 */
export class SpyStore implements SessionStore {
  readonly calls: StoreCall[] = [];

  constructor(
    readonly inner: SessionStore = new MemoryStore(),
    private readonly delays: StoreDelays = {},
  ) {}

  get(key: string): Promise<SessionRecord | undefined> {
    return this.perform('get', key, undefined, () => this.inner.get(key));
  }

  set(key: string, record: SessionRecord): Promise<void> {
    return this.perform('set', key, undefined, () => this.inner.set(key, record));
  }

  update(key: string, patch: SessionPatch): Promise<boolean> {
    return this.perform('update', key, patch, () => this.inner.update(key, patch));
  }

  destroy(key: string): Promise<void> {
    return this.perform('destroy', key, undefined, () => this.inner.destroy(key));
  }

  touch(key: string, record: SessionRecord): Promise<void> {
    return this.perform('touch', key, undefined, () => this.inner.touch(key, record));
  }

  /** A position in the call log: pass it to {@link callsSince} to see what happened after it. */
  mark(): number {
    return this.calls.length;
  }

  /** Calls made since `mark`, optionally only of the given operations. */
  callsSince(mark: number, operations: readonly StoreOperation[] = ALL_OPERATIONS): StoreCall[] {
    return this.calls.slice(mark).filter((call) => operations.includes(call.operation));
  }

  /** Writes (`set`, `destroy`, `touch`) made since `mark`. */
  writesSince(mark: number): StoreCall[] {
    return this.callsSince(mark, WRITE_OPERATIONS);
  }

  /** The record the wrapped store holds for the session a `sid=...` cookie names. */
  recordFor(cookie: string): Promise<SessionRecord | undefined> {
    return this.inner.get(storeKeyOf(cookie));
  }

  protected async perform<T>(
    operation: StoreOperation,
    key: string,
    patch: SessionPatch | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    const call: StoreCall = { operation, key, patch, startedAt: performance.now(), finishedAt: undefined, outcome: 'pending' };
    this.calls.push(call);
    try {
      const delay = this.delays[operation];
      if (delay !== undefined && delay > 0) await sleep(delay);
      await this.beforeRun(operation);
      const result = await run();
      call.outcome = 'resolved';
      return result;
    } catch (error) {
      call.outcome = 'rejected';
      throw error;
    } finally {
      call.finishedAt = performance.now();
    }
  }

  /** Hook for subclasses: runs after the delay, before the wrapped store is called. */
  protected beforeRun(_operation: StoreOperation): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * A store whose writes take a while (50 ms by default), like a remote store under load. If the
 * response did not wait for the commit, the client would see it before the write finished.
 */
export class SlowStore extends SpyStore {
  constructor(delayMs = 50, inner: SessionStore = new MemoryStore()) {
    super(inner, { set: delayMs, update: delayMs, touch: delayMs, destroy: delayMs });
  }
}

/** The error a {@link FailingStore} rejects with: what a store client reports when its server is gone. */
export class SimulatedOutage extends Error {
  constructor(operation: StoreOperation) {
    super(`connect ECONNREFUSED 127.0.0.1:6379 (simulated outage during ${operation})`);
    this.name = 'SimulatedOutage';
  }
}

/**
 * A working store that can be switched into an outage: while down, the chosen operations hang
 * briefly (like a connection timing out) and then reject. Every attempt is recorded.
 */
export class FailingStore extends SpyStore {
  #failing = new Set<StoreOperation>();
  #hangMs = 0;
  #passesLeft = 0;

  /**
   * Makes `operations` (all five by default) hang for `hangMs` and then reject. With `after`, that
   * many calls of those operations still succeed first (to fail a handler's call, not the load).
   */
  goDown(operations: readonly StoreOperation[] = ALL_OPERATIONS, { hangMs = 20, after = 0 } = {}): void {
    this.#failing = new Set(operations);
    this.#hangMs = hangMs;
    this.#passesLeft = after;
  }

  /** Ends the outage: every operation reaches the wrapped store again. */
  recover(): void {
    this.#failing.clear();
  }

  protected override async beforeRun(operation: StoreOperation): Promise<void> {
    if (!this.#failing.has(operation)) return;
    if (this.#passesLeft > 0) {
      this.#passesLeft -= 1;
      return;
    }
    if (this.#hangMs > 0) await sleep(this.#hangMs);
    throw new SimulatedOutage(operation);
  }
}

// --- Reading session cookies off responses (RFC 6265 `Set-Cookie`) ---------------------------

/** Every `Set-Cookie` header of a response. */
export function setCookieHeadersOf(response: Response): string[] {
  const header: unknown = response.headers['set-cookie'];
  if (Array.isArray(header)) return header as string[];
  return typeof header === 'string' ? [header] : [];
}

/** The `Set-Cookie` header for cookie `name`, if the response sent one. */
export function setCookieFor(response: Response, name = 'sid'): string | undefined {
  return setCookieHeadersOf(response).find((header) => header.startsWith(`${name}=`));
}

/**
 * The `name=value` pair to send back in a `Cookie` header, taken from a `Set-Cookie` that issues
 * a live session cookie. Fails the test when the response issued none.
 */
export function sessionCookieFrom(response: Response, name = 'sid'): string {
  const header = setCookieFor(response, name);
  if (header === undefined) throw new Error(`expected the response to set the "${name}" cookie; it set none`);
  const pair = header.split(';')[0];
  if (pair === `${name}=` || /;\s*Max-Age=0/i.test(header)) {
    throw new Error(`expected a live "${name}" cookie, got one that expires it: ${header}`);
  }
  return pair;
}

/** True when the response tells the browser to delete cookie `name` (empty value, Max-Age=0). */
export function expiresCookie(response: Response, name = 'sid'): boolean {
  const header = setCookieFor(response, name);
  return header !== undefined && header.startsWith(`${name}=;`) && /;\s*Max-Age=0/i.test(header);
}

/** The session id inside a `sid=<id>.<signature>` cookie pair. */
export function sessionIdOf(cookie: string): string {
  const value = cookie.slice(cookie.indexOf('=') + 1);
  return value.split('.')[0];
}

/** The key the store keeps the session of a `sid=...` cookie pair under (SHA-256 of its id). */
export function storeKeyOf(cookie: string): string {
  return hashSessionId(sessionIdOf(cookie));
}

// --- Shared assertions ---------------------------------------------------------------------

/**
 * The library's answer to a store outage: 503 with its JSON message (the client is told to retry,
 * not treated as anonymous), and no cookie for a session that could not be saved.
 */
export function shouldAnswerStoreUnavailable(response: Response): void {
  expect(response.status).toBe(503);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(response.body).toMatchObject({ statusCode: 503, message: expect.stringMatching(/^Session store unavailable/) });
  expect(setCookieFor(response)).toBeUndefined();
}

/**
 * Milliseconds from now until a write of a new session to `store` succeeds, each attempt a new
 * request bounded by the store's operation timeout. A store that fails at once (a suspect
 * connection) gets 5 ms between attempts, so the loop never starves the event loop.
 * @param newKey - A fresh store key per attempt (a test may record them for its cleanup).
 */
export async function timeToFirstWrite(store: SessionStore, newKey: () => string): Promise<number> {
  const started = performance.now();
  for (;;) {
    const now = Date.now();
    try {
      await store.set(newKey(), { data: { n: 0 }, createdAt: now, touchedAt: now, expiresAt: now + 60_000 });
      return performance.now() - started;
    } catch {
      await sleep(5);
    }
  }
}

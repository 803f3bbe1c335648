/**
 * What each lifecycle event carries, by type. Every event names the session by the SHA-256 of its
 * id (`sessionIdHash`, the store key): enough to correlate log lines and audit records, useless
 * to replay. The session id itself is never in an event.
 */
export interface SessionEventPayloads {
  /** A new session was stored for the first time (client-side: first sealed into a cookie). */
  created: { readonly userId?: string };
  /** A request brought back an existing session. Emitted only while someone listens to it. */
  loaded: { readonly userId?: string };
  /** `login()` gave the session a new id; the old one no longer works. */
  rotated: {
    readonly userId: string;
    /** The hash of the id the session had before; absent when it had never been stored. */
    readonly previousSessionIdHash?: string;
    readonly reason: 'login';
  };
  /** The session was ended by the application through the session object. */
  destroyed: {
    readonly userId?: string;
    /** `logout()`, `destroy()`, `regenerate()`, or `req.session = null`. */
    readonly reason: 'logout' | 'destroy' | 'regenerate' | 'discard';
  };
  /**
   * A request brought a session past its idle or absolute timeout. Client-side sessions always
   * report it; server-side ones when the store still returned the record (stores with native
   * expiry, such as Redis, forget a record at its deadline and the library sees no session).
   */
  expired: { readonly userId?: string; readonly reason: 'idle-timeout' | 'absolute-timeout' };
  /** The session was ended from outside it, through `SessionService` or the session limit. */
  revoked: {
    readonly userId?: string;
    /** `revoke()`, `revokeAllForUser()`, or `maxSessionsPerUser` evicting the oldest. */
    readonly reason: 'revoked' | 'revoke-all' | 'max-sessions';
  };
}

/** The lifecycle events, by name. */
export type SessionEventType = keyof SessionEventPayloads;

/** One lifecycle event: its type, when, which session, and the type's own fields. */
export type SessionEvent<T extends SessionEventType = SessionEventType> = {
  [K in T]: {
    readonly type: K;
    /** SHA-256 of the session id (base64url): the session's store key. */
    readonly sessionIdHash: string;
    /** When it happened, in ms since the epoch. */
    readonly at: number;
  } & SessionEventPayloads[K];
}[T];

/** A function told of events of one type. May be async; its failure never fails the request. */
export type SessionEventListener<T extends SessionEventType = SessionEventType> = (event: SessionEvent<T>) => void | Promise<void>;

/**
 * The session lifecycle, as a small typed event emitter. Listeners run synchronously in the
 * order they were added, after the change they report has been made (a `destroyed` listener
 * runs once the store no longer has the session). A listener that throws or rejects is reported
 * to `onListenerError` and does not affect the request or the other listeners.
 *
 * @example
 * events.on('revoked', ({ userId, reason, sessionIdHash }) => audit.log({ userId, reason, sessionIdHash }));
 */
export class SessionEvents {
  readonly #listeners = new Map<SessionEventType, Array<SessionEventListener<never>>>();
  readonly #onListenerError: (error: unknown, event: SessionEvent) => void;

  /** @param onListenerError - Told of a listener's failure. @default console.error */
  constructor(onListenerError?: (error: unknown, event: SessionEvent) => void) {
    this.#onListenerError = onListenerError ?? ((error, event) => console.error(`Session ${event.type} listener failed`, error));
  }

  /** Calls `listener` for every event of `type`; returns a function that removes it. */
  on<T extends SessionEventType>(type: T, listener: SessionEventListener<T>): () => void {
    if (typeof listener !== 'function') throw new TypeError(`SessionEvents.on('${String(type)}', listener): listener must be a function`);
    if (!EVENT_TYPES.has(type)) {
      throw new TypeError(`SessionEvents.on: unknown event type ${JSON.stringify(type)} (known: ${[...EVENT_TYPES].join(', ')})`);
    }
    const list = this.#listeners.get(type) ?? [];
    // A new array, so a listener added or removed during an emit takes effect from the next one.
    this.#listeners.set(type, [...list, listener]);
    return () => this.off(type, listener);
  }

  /** Removes a listener added with {@link on}; removing one that is not there does nothing. */
  off<T extends SessionEventType>(type: T, listener: SessionEventListener<T>): void {
    const list = this.#listeners.get(type);
    if (!list) return;
    const index = list.indexOf(listener);
    if (index === -1) return;
    const next = list.filter((_, position) => position !== index);
    if (next.length === 0) this.#listeners.delete(type);
    else this.#listeners.set(type, next);
  }

  /** Whether anyone listens to `type` (so a frequent event costs nothing when nobody does). */
  has(type: SessionEventType): boolean {
    return this.#listeners.has(type);
  }

  /** @internal Tells the listeners of `event.type`. */
  emit(event: SessionEvent): void {
    const list = this.#listeners.get(event.type);
    if (!list) return;
    for (const listener of list) {
      try {
        const result = (listener as SessionEventListener)(event);
        if (result && typeof result.then === 'function') result.then(undefined, (error: unknown) => this.#report(error, event));
      } catch (error) {
        this.#report(error, event);
      }
    }
  }

  #report(error: unknown, event: SessionEvent): void {
    try {
      this.#onListenerError(error, event);
    } catch {
      // The error reporter itself failed: nothing sensible is left to tell.
    }
  }
}

const EVENT_TYPES: ReadonlySet<string> = new Set<SessionEventType>(['created', 'loaded', 'rotated', 'destroyed', 'expired', 'revoked']);

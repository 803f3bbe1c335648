import type { EndedSessionBroadcast, SessionEndReason } from './ended-session-broadcast';
import type { SessionEvents } from './session-events';

/** A long-lived connection (a socket) that lives as long as its session. */
export interface LiveConnection {
  /** Tells the client why and closes the connection. Called at most once. */
  end(reason: SessionEndReason): void;
}

/**
 * The live connections of each session, closed when the session ends: on this instance, as the
 * lifecycle events report it (logout, destroy, regenerate, `req.session = null`, a new id at
 * login, revoke, sign out everywhere, the session limit); on the other instances, through the
 * broadcast, which this registry both feeds and follows. Keys are store keys (the SHA-256 of the
 * id), as in the events.
 *
 * Expiry is not taken from `expired` events: each connection is rechecked at its own session's
 * deadline by its owner. Client-side, an `expired` event only says that one copy of the cookie
 * is stale (a request brought an old one back): the browser may hold a fresher cookie of the same
 * session, whose connections must stay open.
 */
/**
 * How long an ended session is remembered, so a connection whose handshake read the session just
 * before it ended is not let in after the end was reported (the handshake's store read can take
 * up to a store's operation timeout). Bounded in count as well, oldest forgotten first.
 */
const RECENTLY_ENDED_MS = 60_000;
const RECENTLY_ENDED_MAX = 10_000;

export class LiveSessions {
  readonly #connections = new Map<string, Set<LiveConnection>>();
  /** Sessions ended lately, by key: when and why (insertion order is age order). */
  readonly #recentlyEnded = new Map<string, { readonly at: number; readonly reason: SessionEndReason }>();
  readonly #events: SessionEvents;
  readonly #broadcast: EndedSessionBroadcast | undefined;
  readonly #onError: (error: unknown) => void;
  #stops: Array<() => void | Promise<void>> = [];

  constructor(events: SessionEvents, broadcast: EndedSessionBroadcast | undefined, onError: (error: unknown) => void) {
    this.#events = events;
    this.#broadcast = broadcast;
    this.#onError = onError;
  }

  /** Starts following the lifecycle events, then the broadcast; resolves once both are followed. */
  async start(): Promise<void> {
    const events = this.#events;
    this.#stops.push(
      events.on('destroyed', ({ sessionIdHash, reason }) => this.#endedHere(sessionIdHash, reason)),
      events.on('revoked', ({ sessionIdHash, reason }) => this.#endedHere(sessionIdHash, reason)),
      events.on('rotated', ({ previousSessionIdHash }) => {
        if (previousSessionIdHash !== undefined) this.#endedHere(previousSessionIdHash, 'login');
      }),
    );
    if (this.#broadcast) this.#stops.push(await this.#broadcast.subscribe((key, reason) => this.end(key, reason)));
  }

  /** Stops following events and the broadcast (connections stay open: their server closes them). */
  async stop(): Promise<void> {
    const stops = this.#stops;
    this.#stops = [];
    for (const stop of stops.reverse()) await stop();
  }

  /** Keeps `connection` until its session (under `key`) ends; returns what to call once it closed. */
  track(key: string, connection: LiveConnection): () => void {
    let set = this.#connections.get(key);
    if (!set) this.#connections.set(key, (set = new Set()));
    set.add(connection);
    return () => this.#untrack(key, connection);
  }

  /**
   * Why the session under `key` ended, if that was reported in the last minute: a handshake that
   * loaded it before the end must not be let in after it.
   */
  endedLately(key: string, now = Date.now()): SessionEndReason | undefined {
    const ended = this.#recentlyEnded.get(key);
    return ended !== undefined && now - ended.at < RECENTLY_ENDED_MS ? ended.reason : undefined;
  }

  /** Ends this instance's connections of the session under `key`; returns how many. */
  end(key: string, reason: SessionEndReason): number {
    this.#remember(key, reason);
    const set = this.#connections.get(key);
    if (!set) return 0;
    this.#connections.delete(key);
    for (const connection of set) {
      try {
        connection.end(reason);
      } catch (error) {
        this.#onError(error);
      }
    }
    return set.size;
  }

  /** How many connections are tracked (for tests and metrics). */
  get size(): number {
    let total = 0;
    for (const set of this.#connections.values()) total += set.size;
    return total;
  }

  #endedHere(key: string, reason: SessionEndReason): void {
    this.end(key, reason);
    // The other instances' sockets: every end is told, since this instance cannot know where
    // the session's sockets are.
    this.#broadcast?.publish(key, reason).catch(this.#onError);
  }

  #remember(key: string, reason: SessionEndReason): void {
    const now = Date.now();
    this.#recentlyEnded.delete(key);
    this.#recentlyEnded.set(key, { at: now, reason });
    for (const [oldest, { at }] of this.#recentlyEnded) {
      if (now - at < RECENTLY_ENDED_MS && this.#recentlyEnded.size <= RECENTLY_ENDED_MAX) break;
      this.#recentlyEnded.delete(oldest);
    }
  }

  #untrack(key: string, connection: LiveConnection): void {
    const set = this.#connections.get(key);
    if (!set) return;
    set.delete(connection);
    if (set.size === 0) this.#connections.delete(key);
  }
}

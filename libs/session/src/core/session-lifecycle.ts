import type { ExpiryPolicy, SessionTimestamps } from './expiry';
import { type SessionEvents, type SessionEvent } from './session-events';
import { signedInUserId } from './session-owner';
import type { SessionHandle, SessionInternals } from './session';

/**
 * The lifecycle events of sessions (`created`, `loaded`, `rotated`, `destroyed`, `expired`,
 * `revoked`), as the engine reports them: the emitter, the events held until a commit succeeds,
 * and the events whose payload takes some working out. Events nobody listens to cost nothing.
 */
export class SessionLifecycle {
  readonly #events: SessionEvents;
  readonly #clock: () => number;
  readonly #policy: ExpiryPolicy;

  constructor(events: SessionEvents, clock: () => number, policy: ExpiryPolicy) {
    this.#events = events;
    this.#clock = clock;
    this.#policy = policy;
  }

  /** Whether anyone listens to `type` (so its payload is worth building). */
  has(type: SessionEvent['type']): boolean {
    return this.#events.has(type);
  }

  emit(event: SessionEvent): void {
    this.#events.emit(event);
  }

  /** Holds an event until the request's commit has succeeded (see {@link flush}). */
  queue(state: SessionInternals, event: SessionEvent): void {
    (state.pendingEvents ??= []).push(event);
  }

  /** Emits what the commit held back, in order. */
  flush(state: SessionInternals): void {
    const pending = state.pendingEvents;
    state.pendingEvents = undefined;
    for (const event of pending ?? []) this.#events.emit(event);
  }

  /** `rotated`, held until the commit that completes the sign-in. */
  queueRotated(state: SessionInternals, userId: string, previous: string | undefined): void {
    if (!this.#events.has('rotated')) return;
    this.queue(state, {
      type: 'rotated',
      sessionIdHash: state.key,
      at: this.#clock(),
      userId,
      ...(previous === undefined ? {} : { previousSessionIdHash: previous }),
      reason: 'login',
    });
  }

  /** `expired`, for a session found past its idle or absolute deadline. */
  expired(key: string, timestamps: SessionTimestamps, data: Readonly<Record<string, unknown>>, now: number): void {
    if (!this.#events.has('expired')) return;
    const reason = now >= timestamps.createdAt + this.#policy.absoluteTimeout ? 'absolute-timeout' : 'idle-timeout';
    this.#events.emit({ type: 'expired', sessionIdHash: key, at: now, ...userField(signedInUserId(data)), reason });
  }

  /** `destroyed`, for a session the request ended (logout, destroy, regenerate, discard). */
  destroyed(key: string, session: SessionHandle, reason: 'logout' | 'destroy' | 'discard' | 'regenerate'): void {
    this.#events.emit({ type: 'destroyed', sessionIdHash: key, at: this.#clock(), ...userField(userIdOf(session)), reason });
  }
}

/** The signed-in user of a session object (its `user` data key). */
export function userIdOf(session: SessionHandle): string | undefined {
  return signedInUserId(session as unknown as Record<string, unknown>);
}

/** `{ userId }` for an event, or nothing for an anonymous session. */
export function userField(userId: string | undefined): { userId?: string } {
  return userId === undefined ? {} : { userId };
}

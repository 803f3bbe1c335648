import { encodeEndedSession, decodeEndedSession, type EndedSessionBroadcast, type SessionEndReason } from './ended-session-broadcast';
import { LiveSessions } from './live-sessions';
import { SessionEvents } from './session-events';

const KEY = 'k'.repeat(43);
const OTHER = 'o'.repeat(43);

/** A broadcast in memory: what is published reaches every subscriber, as Redis pub/sub does. */
class MemoryBroadcast implements EndedSessionBroadcast {
  readonly published: Array<[string, SessionEndReason]> = [];
  readonly #listeners = new Set<(key: string, reason: SessionEndReason) => void>();

  publish(key: string, reason: SessionEndReason): Promise<void> {
    this.published.push([key, reason]);
    for (const listener of this.#listeners) listener(key, reason);
    return Promise.resolve();
  }

  subscribe(listener: (key: string, reason: SessionEndReason) => void): Promise<() => Promise<void>> {
    this.#listeners.add(listener);
    return Promise.resolve(() => {
      this.#listeners.delete(listener);
      return Promise.resolve();
    });
  }
}

function connection(): { end: jest.Mock } {
  return { end: jest.fn() };
}

describe('LiveSessions', () => {
  it.each([
    [{ type: 'destroyed', sessionIdHash: KEY, at: 1, reason: 'logout' }, 'logout'],
    [{ type: 'destroyed', sessionIdHash: KEY, at: 1, reason: 'regenerate' }, 'regenerate'],
    [{ type: 'revoked', sessionIdHash: KEY, at: 1, reason: 'max-sessions' }, 'max-sessions'],
    [{ type: 'rotated', sessionIdHash: OTHER, previousSessionIdHash: KEY, at: 1, userId: 'u', reason: 'login' }, 'login'],
  ] as const)('ends the connections of a session when the engine reports %o', async (event, reason) => {
    const events = new SessionEvents();
    const live = new LiveSessions(events, undefined, () => undefined);
    await live.start();
    const mine = connection();
    const other = connection();
    live.track(KEY, mine);
    live.track(OTHER + 'x', other);
    events.emit(event);
    expect(mine.end).toHaveBeenCalledWith(reason);
    expect(other.end).not.toHaveBeenCalled();
    expect(live.size).toBe(1);
  });

  it('leaves connections open on an expired event: a stale copy of a cookie is not the end of its session', async () => {
    const broadcast = new MemoryBroadcast();
    const events = new SessionEvents();
    const live = new LiveSessions(events, broadcast, () => undefined);
    await live.start();
    const mine = connection();
    live.track(KEY, mine);
    events.emit({ type: 'expired', sessionIdHash: KEY, at: 1, reason: 'idle-timeout' });
    expect(mine.end).not.toHaveBeenCalled();
    expect(broadcast.published).toEqual([]);
  });

  it('publishes every end it sees, and ends what other instances publish', async () => {
    const broadcast = new MemoryBroadcast();
    const eventsA = new SessionEvents();
    const a = new LiveSessions(eventsA, broadcast, () => undefined);
    const b = new LiveSessions(new SessionEvents(), broadcast, () => undefined);
    await a.start();
    await b.start();
    const onB = connection();
    b.track(KEY, onB);
    eventsA.emit({ type: 'revoked', sessionIdHash: KEY, at: 1, reason: 'revoke-all' });
    expect(broadcast.published).toEqual([[KEY, 'revoke-all']]);
    expect(onB.end).toHaveBeenCalledWith('revoke-all');
    await b.stop();
    const late = connection();
    b.track(KEY, late);
    eventsA.emit({ type: 'revoked', sessionIdHash: KEY, at: 2, reason: 'revoked' });
    expect(late.end).not.toHaveBeenCalled();
  });

  it('stops tracking a closed connection, and reports a connection whose end throws without stopping the others', async () => {
    const errors: unknown[] = [];
    const events = new SessionEvents();
    const live = new LiveSessions(events, undefined, (error) => errors.push(error));
    await live.start();
    const closed = connection();
    const untrack = live.track(KEY, closed);
    untrack();
    const failing = { end: jest.fn(() => { throw new Error('socket gone'); }) };
    const healthy = connection();
    live.track(KEY, failing);
    live.track(KEY, healthy);
    expect(live.end(KEY, 'logout')).toBe(2);
    expect(closed.end).not.toHaveBeenCalled();
    expect(healthy.end).toHaveBeenCalledWith('logout');
    expect(errors).toEqual([new Error('socket gone')]);
    expect(live.size).toBe(0);
  });
});

describe('LiveSessions.endedLately', () => {
  it('remembers an end for a minute, whichever instance reported it, so a handshake that read the session before it cannot slip in after', async () => {
    const broadcast = new MemoryBroadcast();
    const events = new SessionEvents();
    const here = new LiveSessions(events, broadcast, () => undefined);
    const there = new LiveSessions(new SessionEvents(), broadcast, () => undefined);
    await here.start();
    await there.start();
    expect(here.endedLately(KEY)).toBeUndefined();
    events.emit({ type: 'destroyed', sessionIdHash: KEY, at: 1, reason: 'logout' });
    expect(here.endedLately(KEY)).toBe('logout');
    expect(there.endedLately(KEY)).toBe('logout');
    expect(here.endedLately(OTHER)).toBeUndefined();
    expect(here.endedLately(KEY, Date.now() + 61_000)).toBeUndefined();
  });
});

describe('ended-session messages', () => {
  it('round-trip, and anything else on the channel is ignored', () => {
    expect(decodeEndedSession(encodeEndedSession(KEY, 'max-sessions'))).toEqual({ key: KEY, reason: 'max-sessions' });
    for (const foreign of ['', 'logout', `logout ${KEY}x`, `shutdown ${KEY}`, ` ${KEY}`, `logout  ${KEY}`]) {
      expect(decodeEndedSession(foreign)).toBeUndefined();
    }
  });
});

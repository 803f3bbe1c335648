// eslint-disable-next-line no-restricted-imports -- a test may run core against the real default store; core code itself still may not.
import { MemoryStore } from '../stores/memory.store';
import { SessionEvents, type SessionEvent } from './session-events';
import { hashSessionId } from './session-id';
import { SessionManager } from './session-manager';
import { resolveSessionOptions, type SessionOptions } from './session-options';
import { SessionService } from './session-service';
import type { SessionHandle } from './session';

const SECRET = 'test-only secret: 0123456789abcdef0123456789abcdef';
const T0 = 1_700_000_000_000;
const MINUTE = 60_000;

type Data = SessionHandle & Record<string, unknown>;

describe('SessionEvents', () => {
  it('calls the listeners of a type in order, and stops calling a removed one', () => {
    const events = new SessionEvents();
    const calls: string[] = [];
    const first = (): void => void calls.push('first');
    events.on('created', first);
    const removeSecond = events.on('created', () => void calls.push('second'));
    events.on('destroyed', () => void calls.push('other type'));
    const event: SessionEvent = { type: 'created', sessionIdHash: 'h', at: T0 };
    events.emit(event);
    removeSecond();
    events.off('created', first);
    events.emit(event);
    expect(calls).toEqual(['first', 'second']);
    expect(events.has('created')).toBe(false);
    expect(events.has('destroyed')).toBe(true);
  });

  it('reports a listener that throws or rejects, and still calls the others', async () => {
    const failures: Array<[unknown, string]> = [];
    const events = new SessionEvents((error, event) => failures.push([error, event.type]));
    const after = jest.fn();
    events.on('revoked', () => {
      throw new Error('sync failure');
    });
    events.on('revoked', () => Promise.reject(new Error('async failure')));
    events.on('revoked', after);
    events.emit({ type: 'revoked', sessionIdHash: 'h', at: T0, reason: 'revoked' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(after).toHaveBeenCalledTimes(1);
    expect(failures.map(([error, type]) => [(error as Error).message, type])).toEqual([
      ['sync failure', 'revoked'],
      ['async failure', 'revoked'],
    ]);
  });

  it('survives an error reporter that throws', () => {
    const events = new SessionEvents(() => {
      throw new Error('reporter down');
    });
    events.on('created', () => {
      throw new Error('listener down');
    });
    expect(() => events.emit({ type: 'created', sessionIdHash: 'h', at: T0 })).not.toThrow();
  });

  it('refuses unknown event types and non-function listeners', () => {
    const events = new SessionEvents();
    expect(() => events.on('create' as 'created', () => undefined)).toThrow(/unknown event type "create"/);
    expect(() => events.on('created', 'nope' as unknown as () => void)).toThrow(TypeError);
  });

  it('a listener added during an emit is called from the next one', () => {
    const events = new SessionEvents();
    const late = jest.fn();
    events.on('created', () => void events.on('created', late));
    events.emit({ type: 'created', sessionIdHash: 'h', at: T0 });
    expect(late).not.toHaveBeenCalled();
    events.emit({ type: 'created', sessionIdHash: 'h', at: T0 });
    expect(late).toHaveBeenCalledTimes(1);
  });
});

function setUp(overrides: Partial<SessionOptions> = {}) {
  const clock = { now: T0 };
  // The store's clock can be held back, so a record the library finds expired is still returned.
  const storeClock = { now: T0, follows: true };
  const store = new MemoryStore({ clock: () => (storeClock.follows ? clock.now : storeClock.now) });
  const events = new SessionEvents((error) => {
    throw error;
  });
  const seen: SessionEvent[] = [];
  for (const type of ['created', 'loaded', 'rotated', 'destroyed', 'expired', 'revoked'] as const) {
    events.on(type, (event) => void seen.push(event));
  }
  const mode = overrides.mode ?? 'server';
  const manager = new SessionManager(
    resolveSessionOptions({ secret: SECRET, idleTimeout: 30 * MINUTE, absoluteTimeout: 120 * MINUTE, ...overrides }),
    { store, clock: () => clock.now, events },
  );
  const load = (cookie?: string) => manager.load({ cookieHeader: cookie === undefined ? undefined : `sid=${cookie}`, secure: false });
  const finish = async (session: SessionHandle, previous?: string): Promise<string | undefined> => {
    await manager.commit(session);
    const header = manager.setCookieHeader(session);
    if (header === undefined) return previous;
    const value = decodeURIComponent(header.split(';', 1)[0].slice('sid='.length));
    return value === '' ? undefined : value;
  };
  const signIn = async (userId = 'alice'): Promise<{ cookie: string; id: string }> => {
    const session = await load();
    await session.login({ id: userId });
    const cookie = (await finish(session))!;
    return { cookie, id: session.id };
  };
  const types = () => seen.map((event) => event.type);
  return { clock, storeClock, store, events, seen, manager, load, finish, signIn, types, mode };
}

describe.each(['server', 'cookie'] as const)('lifecycle events from the session manager (%s mode)', (mode) => {
  it('login: rotated (with the user and the previous id\'s hash) then created; never the session id itself', async () => {
    const { load, finish, seen, types } = setUp({ mode });
    const anonymous = (await load()) as Data;
    anonymous.cart = ['book'];
    const anonymousCookie = await finish(anonymous);
    const before = anonymous.id;
    const session = await load(anonymousCookie);
    seen.length = 0;
    await session.login({ id: 'alice' });
    await finish(session, anonymousCookie);

    expect(types()).toEqual(['rotated', 'created']);
    expect(seen[0]).toEqual({
      type: 'rotated',
      sessionIdHash: hashSessionId(session.id),
      previousSessionIdHash: hashSessionId(before),
      userId: 'alice',
      reason: 'login',
      at: T0,
    });
    expect(seen[1]).toEqual({ type: 'created', sessionIdHash: hashSessionId(session.id), userId: 'alice', at: T0 });
    expect(JSON.stringify(seen)).not.toContain(session.id);
    expect(JSON.stringify(seen)).not.toContain(before);
  });

  it('login from a fresh session: rotated without a previous hash', async () => {
    const { seen, signIn } = setUp({ mode });
    const { id } = await signIn();
    expect(seen[0]).toEqual({ type: 'rotated', sessionIdHash: hashSessionId(id), userId: 'alice', reason: 'login', at: T0 });
  });

  it('an anonymous session stored for the first time: created without a user', async () => {
    const { load, finish, seen } = setUp({ mode });
    const session = (await load()) as Data;
    session.theme = 'dark';
    await finish(session);
    expect(seen).toEqual([{ type: 'created', sessionIdHash: hashSessionId(session.id), at: T0 }]);
  });

  it('nothing for a request that stores nothing', async () => {
    const { load, finish, seen } = setUp({ mode });
    await finish(await load());
    expect(seen).toEqual([]);
  });

  it('loaded on each request that brings a session back', async () => {
    const { load, seen, signIn } = setUp({ mode });
    const { cookie, id } = await signIn();
    seen.length = 0;
    await load(cookie);
    await load(cookie);
    expect(seen).toEqual([
      { type: 'loaded', sessionIdHash: hashSessionId(id), userId: 'alice', at: T0 },
      { type: 'loaded', sessionIdHash: hashSessionId(id), userId: 'alice', at: T0 },
    ]);
  });

  it.each([
    ['logout', (session: SessionHandle) => session.logout()],
    ['destroy', (session: SessionHandle) => session.destroy()],
    ['regenerate', (session: SessionHandle) => session.regenerate()],
  ] as const)('%s(): destroyed with that reason and the user', async (reason, end) => {
    const { load, seen, signIn, finish } = setUp({ mode });
    const { cookie, id } = await signIn();
    const session = await load(cookie);
    seen.length = 0;
    await end(session);
    await finish(session, cookie);
    expect(seen).toEqual([{ type: 'destroyed', sessionIdHash: hashSessionId(id), userId: 'alice', reason, at: T0 }]);
  });

  it('req.session = null: destroyed with reason discard', async () => {
    const { load, seen, signIn, manager } = setUp({ mode });
    const { cookie, id } = await signIn();
    const session = await load(cookie);
    seen.length = 0;
    manager.discard(session);
    await manager.commit(session);
    expect(seen).toEqual([{ type: 'destroyed', sessionIdHash: hashSessionId(id), userId: 'alice', reason: 'discard', at: T0 }]);
  });

  it('ending a session that was never stored tells no one', async () => {
    const { load, seen } = setUp({ mode });
    await (await load()).destroy();
    expect(seen).toEqual([]);
  });

  it('revoked, with the reason, when SessionService ends a session', async () => {
    const { manager, seen, signIn } = setUp({ mode });
    const service = new SessionService(manager);
    const { id } = await signIn();
    const second = await signIn();
    seen.length = 0;
    const [first] = await service.listForUser('alice');
    await service.revoke(first.id);
    await service.revokeAllForUser('alice');
    expect(seen).toEqual([
      { type: 'revoked', sessionIdHash: hashSessionId(id), userId: 'alice', reason: 'revoked', at: T0 },
      { type: 'revoked', sessionIdHash: hashSessionId(second.id), userId: 'alice', reason: 'revoke-all', at: T0 },
    ]);
  });

  it('expired, idle or absolute, when a request brings a session past its deadline', async () => {
    const { clock, storeClock, seen, signIn, load, finish } = setUp({ mode });
    // Server-side, the store must still hand the record back for the library to see it expire.
    storeClock.follows = false;
    const idle = await signIn();
    clock.now += 31 * MINUTE;
    seen.length = 0;
    expect((await load(idle.cookie)).isNew).toBe(true);
    expect(seen).toEqual([{ type: 'expired', sessionIdHash: hashSessionId(idle.id), userId: 'alice', reason: 'idle-timeout', at: clock.now }]);

    const active = await signIn('bob');
    let cookie = active.cookie;
    // Used every 25 minutes (inside the 30-minute idle timeout) until past the 120-minute absolute one.
    for (let step = 0; step < 4; step++) {
      clock.now += 25 * MINUTE;
      cookie = (await finish(await load(cookie), cookie))!;
    }
    clock.now += 25 * MINUTE;
    seen.length = 0;
    expect((await load(cookie)).isNew).toBe(true);
    expect(seen).toEqual([{ type: 'expired', sessionIdHash: hashSessionId(active.id), userId: 'bob', reason: 'absolute-timeout', at: clock.now }]);
  });

  it('a sign-in whose commit fails reports neither rotated nor created', async () => {
    const { load, seen, store, manager } = setUp({ mode });
    const session = await load();
    await session.login({ id: 'alice' });
    // Server-side the record, client-side the registry entry: the write that completes the sign-in.
    jest.spyOn(store, 'set').mockRejectedValue(new Error('store down'));
    await expect(manager.commit(session)).rejects.toThrow(/store down/);
    expect(seen.filter((event) => event.type === 'rotated' || event.type === 'created')).toEqual([]);
  });

  it('costs nothing when nobody listens: no loaded event is built', async () => {
    const store = new MemoryStore({ clock: () => T0 });
    const events = new SessionEvents();
    const has = jest.spyOn(events, 'has');
    const emit = jest.spyOn(events, 'emit');
    const manager = new SessionManager(resolveSessionOptions({ secret: SECRET, mode, ...(mode === 'cookie' ? { revocationStore: store } : { store }) }), {
      store,
      clock: () => T0,
      events,
    });
    const session = (await manager.load({ cookieHeader: undefined, secure: false })) as Data;
    session.x = 1;
    await manager.commit(session);
    const header = manager.setCookieHeader(session)!;
    emit.mockClear();
    await manager.load({ cookieHeader: header.split(';', 1)[0], secure: false });
    expect(has).toHaveBeenCalledWith('loaded');
    expect(emit).not.toHaveBeenCalled();
  });
});

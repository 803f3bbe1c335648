// eslint-disable-next-line no-restricted-imports -- a test may run core against the real default store; core code itself still may not.
import { MemoryStore } from '../stores/memory.store';
import { SessionConfigError, SessionError } from './errors';
import { SessionEvents, type SessionEvent } from './session-events';
import { hashSessionId } from './session-id';
import { SessionManager } from './session-manager';
import { resolveSessionOptions, type SessionOptions } from './session-options';
import { SessionService } from './session-service';
import type { SessionStore } from './session-store';
import type { SessionHandle } from './session';

/**
 * SessionService over the real session manager and MemoryStore, in both modes: what a "your
 * devices" page and "sign out everywhere" rely on. The stores' own index is covered by the store
 * contract suite; the HTTP side by test/e2e/account-sessions.
 */

const SECRET = 'test-only secret: 0123456789abcdef0123456789abcdef';
const T0 = 1_700_000_000_000;
const MINUTE = 60_000;

type Data = SessionHandle & Record<string, unknown>;

interface Device {
  readonly ip?: string;
  readonly userAgent?: string;
}

function setUp(overrides: Partial<SessionOptions> = {}, store?: SessionStore) {
  const clock = { now: T0 };
  const usedStore = store ?? new MemoryStore({ clock: () => clock.now });
  const events = new SessionEvents();
  const seen: SessionEvent[] = [];
  for (const type of ['created', 'rotated', 'destroyed', 'expired', 'revoked'] as const) events.on(type, (event) => void seen.push(event));
  const mode = overrides.mode ?? 'server';
  const options = resolveSessionOptions({
    secret: SECRET,
    ...(mode === 'cookie' ? { revocationStore: usedStore } : { store: usedStore }),
    ...overrides,
  });
  const manager = new SessionManager(options, { store: usedStore, clock: () => clock.now, events });
  const service = new SessionService(manager);

  const load = (cookie?: string, device: Device = {}) =>
    manager.load({ cookieHeader: cookie === undefined ? undefined : `sid=${cookie}`, secure: false, device: () => device });
  /** Commits; the cookie the browser holds afterwards (the old one when none was set). */
  const finish = async (session: SessionHandle, previous?: string): Promise<string | undefined> => {
    await manager.commit(session);
    const header = manager.setCookieHeader(session);
    if (header === undefined) return previous;
    const value = decodeURIComponent(header.split(';', 1)[0].slice('sid='.length));
    return value === '' ? undefined : value;
  };
  /** Signs `userId` in from a device; the cookie it gets. */
  const signIn = async (userId: string | number, device: Device = {}): Promise<string> => {
    const session = await load(undefined, device);
    await session.login({ id: userId, roles: ['user'] });
    const cookie = await finish(session);
    if (!cookie) throw new Error('login set no cookie');
    return cookie;
  };
  /** The signed-in user of a cookie's session on its next request (undefined: anonymous). */
  const whoIs = async (cookie: string): Promise<unknown> => {
    const session = (await load(cookie)) as Data;
    return (session.user as { id?: unknown } | undefined)?.id;
  };
  return { clock, store: usedStore, manager, service, events, seen, load, finish, signIn, whoIs };
}

describe.each(['server', 'cookie'] as const)('SessionService (%s mode)', (mode) => {
  it('lists the sessions of a user, oldest first, with device details, and marks the current one', async () => {
    const { service, clock, signIn, load } = setUp({ mode });
    await signIn('alice', { ip: '203.0.113.1', userAgent: 'Laptop/1.0' });
    clock.now += MINUTE;
    const phone = await signIn('alice', { ip: '198.51.100.2', userAgent: 'Phone/2.0' });
    await signIn('bob');
    const current = await load(phone);

    const list = await service.listForUser('alice', { current });
    expect(list.map((entry) => [entry.userAgent, entry.ip, entry.current])).toEqual([
      ['Laptop/1.0', '203.0.113.1', false],
      ['Phone/2.0', '198.51.100.2', true],
    ]);
    expect(list[0]).toMatchObject({ userId: 'alice', createdAt: new Date(T0), lastSeenAt: new Date(T0) });
    expect(list[1].createdAt).toEqual(new Date(T0 + MINUTE));
    expect(list[0].expiresAt.getTime()).toBeGreaterThan(T0);
    await expect(service.listForUser('bob')).resolves.toHaveLength(1);
    await expect(service.listForUser('nobody')).resolves.toEqual([]);
  });

  it('gives each session an opaque id: neither its session id nor its store key, stable between listings', async () => {
    const { service, signIn, load } = setUp({ mode });
    const cookie = await signIn('alice');
    const session = await load(cookie);
    const [entry] = await service.listForUser('alice', { current: session });
    expect(entry.current).toBe(true);
    expect(entry.id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(entry.id).not.toContain(session.id);
    expect(entry.id).not.toContain(hashSessionId(session.id));
    expect(Buffer.from(entry.id, 'base64url').toString('latin1')).not.toContain(hashSessionId(session.id));
    const [again] = await service.listForUser('alice');
    expect(again.id).toBe(entry.id);
  });

  it('accepts numeric user ids as their string form', async () => {
    const { service, signIn } = setUp({ mode });
    await signIn(42);
    await expect(service.listForUser(42)).resolves.toHaveLength(1);
    await expect(service.listForUser('42')).resolves.toHaveLength(1);
  });

  it('revoke(id) signs that device out on its next request, and only that one', async () => {
    const { service, signIn, whoIs } = setUp({ mode });
    const laptop = await signIn('alice', { userAgent: 'Laptop' });
    const phone = await signIn('alice', { userAgent: 'Phone' });
    const [laptopEntry] = await service.listForUser('alice');
    expect(laptopEntry.userAgent).toBe('Laptop');

    await expect(service.revoke(laptopEntry.id)).resolves.toBe(true);
    expect(await whoIs(laptop)).toBeUndefined();
    expect(await whoIs(phone)).toBe('alice');
    expect((await service.listForUser('alice')).map((entry) => entry.userAgent)).toEqual(['Phone']);
    await expect(service.revoke(laptopEntry.id)).resolves.toBe(false);
  });

  it('revoke(id, { userId }) refuses another user\'s session', async () => {
    const { service, signIn, whoIs } = setUp({ mode });
    const bobCookie = await signIn('bob');
    const [bobEntry] = await service.listForUser('bob');
    await expect(service.revoke(bobEntry.id, { userId: 'alice' })).resolves.toBe(false);
    expect(await whoIs(bobCookie)).toBe('bob');
    await expect(service.revoke(bobEntry.id, { userId: 'bob' })).resolves.toBe(true);
    expect(await whoIs(bobCookie)).toBeUndefined();
  });

  it('revoke() answers false for ids it did not make', async () => {
    const { service, signIn } = setUp({ mode });
    const cookie = await signIn('alice');
    for (const id of ['', 'x', cookie, hashSessionId('whatever'), 'A'.repeat(5000)]) {
      await expect(service.revoke(id)).resolves.toBe(false);
    }
    const other = setUp({ mode, secret: 'another test-only secret: 0123456789abcdef' });
    await other.signIn('alice');
    const [foreign] = await other.service.listForUser('alice');
    await expect(service.revoke(foreign.id)).resolves.toBe(false);
    await expect(service.revoke(undefined as unknown as string)).rejects.toThrow(TypeError);
  });

  it('revokeAllForUser signs out everywhere except the current session, and says how many', async () => {
    const { service, signIn, whoIs, load } = setUp({ mode });
    const cookies = [await signIn('alice'), await signIn('alice'), await signIn('alice')];
    const bob = await signIn('bob');
    const current = await load(cookies[1]);

    await expect(service.revokeAllForUser('alice', { except: current })).resolves.toBe(2);
    expect(await whoIs(cookies[0])).toBeUndefined();
    expect(await whoIs(cookies[1])).toBe('alice');
    expect(await whoIs(cookies[2])).toBeUndefined();
    expect(await whoIs(bob)).toBe('bob');
    expect((await service.listForUser('alice', { current: await load(cookies[1]) })).map((entry) => entry.current)).toEqual([true]);
  });

  it('revokeAllForUser keeps a session named by its listed id, or none', async () => {
    const { service, signIn, whoIs } = setUp({ mode });
    const first = await signIn('alice');
    const second = await signIn('alice');
    const [, secondEntry] = await service.listForUser('alice');
    await expect(service.revokeAllForUser('alice', { except: secondEntry.id })).resolves.toBe(1);
    expect(await whoIs(first)).toBeUndefined();
    expect(await whoIs(second)).toBe('alice');
    await expect(service.revokeAllForUser('alice')).resolves.toBe(1);
    expect(await whoIs(second)).toBeUndefined();
    await expect(service.revokeAllForUser('alice')).resolves.toBe(0);
  });

  it('a revoked session stays anonymous: its next request cannot bring it back', async () => {
    const { service, signIn, load, finish, whoIs } = setUp({ mode });
    const cookie = await signIn('alice');
    const inFlight = (await load(cookie)) as Data;
    await service.revokeAllForUser('alice');
    inFlight.cart = ['late write'];
    await finish(inFlight, cookie).catch(() => undefined);
    expect(await whoIs(cookie)).toBeUndefined();
    await expect(service.listForUser('alice')).resolves.toEqual([]);
  });

  it('logout takes the session off the list', async () => {
    const { service, signIn, load, finish } = setUp({ mode });
    const cookie = await signIn('alice');
    const session = await load(cookie);
    await session.logout();
    await finish(session, cookie);
    await expect(service.listForUser('alice')).resolves.toEqual([]);
  });

  it('follows session.user written or deleted without login() and logout()', async () => {
    const { service, load, finish } = setUp({ mode });
    const session = (await load(undefined, { userAgent: 'Direct' })) as Data;
    session.user = { id: 'carol' };
    const cookie = await finish(session);
    expect((await service.listForUser('carol')).map((entry) => entry.userAgent)).toEqual(['Direct']);

    const again = (await load(cookie)) as Data;
    again.user = { id: 'dave' };
    const moved = await finish(again, cookie);
    await expect(service.listForUser('carol')).resolves.toEqual([]);
    await expect(service.listForUser('dave')).resolves.toHaveLength(1);

    const last = (await load(moved)) as Data;
    delete last.user;
    await finish(last, moved);
    await expect(service.listForUser('dave')).resolves.toEqual([]);
  });

  it('lastSeenAt follows activity, once per touch interval', async () => {
    const { service, signIn, load, finish, clock } = setUp({ mode });
    let cookie = await signIn('alice');
    clock.now += 5 * MINUTE;
    cookie = (await finish(await load(cookie), cookie))!;
    const [entry] = await service.listForUser('alice');
    expect(entry.createdAt).toEqual(new Date(T0));
    expect(entry.lastSeenAt).toEqual(new Date(T0 + 5 * MINUTE));
    clock.now += 1_000; // well inside the touch interval: nothing written
    await finish(await load(cookie), cookie);
    expect((await service.listForUser('alice'))[0].lastSeenAt).toEqual(new Date(T0 + 5 * MINUTE));
  });

  it('does not list sessions past their idle timeout', async () => {
    const { service, signIn, clock } = setUp({ mode, idleTimeout: 10 * MINUTE });
    await signIn('alice');
    clock.now += 10 * MINUTE;
    await expect(service.listForUser('alice')).resolves.toEqual([]);
  });

  it('maxSessionsPerUser: signing in once too often revokes the oldest sessions', async () => {
    const { service, signIn, whoIs, clock, seen } = setUp({ mode, maxSessionsPerUser: 2 });
    const first = await signIn('alice', { userAgent: 'first' });
    clock.now += 1_000;
    const second = await signIn('alice', { userAgent: 'second' });
    clock.now += 1_000;
    const other = await signIn('bob');
    clock.now += 1_000;
    const third = await signIn('alice', { userAgent: 'third' });

    expect(await whoIs(first)).toBeUndefined();
    expect(await whoIs(second)).toBe('alice');
    expect(await whoIs(third)).toBe('alice');
    expect(await whoIs(other)).toBe('bob');
    expect((await service.listForUser('alice')).map((entry) => entry.userAgent)).toEqual(['second', 'third']);
    expect(seen.filter((event) => event.type === 'revoked')).toEqual([
      expect.objectContaining({ type: 'revoked', userId: 'alice', reason: 'max-sessions' }),
    ]);
  });

  it('maxSessionsPerUser: two sign-ins committed at the same moment leave one session, never none', async () => {
    const { service, load, manager, whoIs } = setUp({ mode, maxSessionsPerUser: 1 });
    const [first, second] = [await load(), await load()];
    await first.login({ id: 'alice' });
    await second.login({ id: 'alice' });
    await Promise.all([manager.commit(first), manager.commit(second)]);
    const cookies = [first, second].map((session) => {
      const header = manager.setCookieHeader(session)!;
      return decodeURIComponent(header.split(';', 1)[0].slice('sid='.length));
    });
    const signedIn = await Promise.all(cookies.map((cookie) => whoIs(cookie)));
    expect(signedIn.filter((user) => user === 'alice')).toHaveLength(1);
    await expect(service.listForUser('alice')).resolves.toHaveLength(1);
  });

  it('maxSessionsPerUser: when the eviction fails, the sign-in fails and leaves no session behind', async () => {
    const clock = { now: T0 };
    const inner = new MemoryStore({ clock: () => clock.now });
    let listing = 'works';
    const store: SessionStore = {
      get: (key) => inner.get(key),
      set: (key, record) => inner.set(key, record),
      update: (key, patch) => inner.update(key, patch),
      destroy: (key) => inner.destroy(key),
      touch: (key, record) => inner.touch(key, record),
      listByUser: (userId) => (listing === 'works' ? inner.listByUser(userId) : Promise.reject(new Error('connection reset'))),
    };
    const { service, signIn, load, manager, seen } = setUp({ mode, maxSessionsPerUser: 1 }, store);
    await signIn('alice');
    seen.length = 0;
    listing = 'fails';
    const session = await load();
    await session.login({ id: 'alice' });
    await expect(manager.commit(session)).rejects.toThrow(/connection reset/);
    listing = 'works';
    expect(await service.listForUser('alice')).toHaveLength(1);
    expect(seen).toEqual([]);
  });

  it('reaches a signed-in session whose record or registry entry has no owner (older version, lost entry)', async () => {
    const { service, signIn, load, finish, clock, store } = setUp({ mode });
    const cookie = await signIn('alice');
    const memory = store as MemoryStore;
    if (mode === 'server') {
      // As an older instance wrote it: the user in the data, no owner on the record.
      const key = hashSessionId((await load(cookie)).id);
      const { owner: _owner, ...withoutOwner } = (await memory.get(key))!;
      await memory.set(key, withoutOwner);
    } else {
      // The revocation store lost its entries (an in-memory store restarted).
      await memory.clear();
    }
    await expect(service.listForUser('alice')).resolves.toEqual([]);
    clock.now += MINUTE; // client-side, the entry is rewritten once per touch interval
    await finish(await load(cookie), cookie);
    await expect(service.revokeAllForUser('alice')).resolves.toBe(1);
    expect((await load(cookie) as Data).user).toBeUndefined();
  });

  it('keeps a session listed and revocable however often its data changes', async () => {
    const { service, signIn, load, finish, clock, whoIs } = setUp({ mode, idleTimeout: 30 * MINUTE });
    let cookie = await signIn('alice');
    for (let step = 0; step < 70; step++) {
      clock.now += 30_000; // a write every 30 s for 35 minutes: longer than the idle timeout
      const session = (await load(cookie)) as Data;
      session.visits = step;
      cookie = (await finish(session, cookie))!;
    }
    expect(await whoIs(cookie)).toBe('alice');
    const [entry] = await service.listForUser('alice');
    expect(entry.lastSeenAt.getTime()).toBeGreaterThanOrEqual(clock.now - MINUTE);
    await expect(service.revokeAllForUser('alice')).resolves.toBe(1);
    expect(await whoIs(cookie)).toBeUndefined();
  });

  it('isCurrent compares sessions, not strings', async () => {
    const { service, signIn, load } = setUp({ mode });
    const cookie = await signIn('alice');
    const other = await signIn('alice');
    const session = await load(cookie);
    const list = await service.listForUser('alice', { current: session });
    expect(list.map((entry) => service.isCurrent(entry.id, session))).toEqual(list.map((entry) => entry.current));
    expect(service.isCurrent('garbage', session)).toBe(false);
    expect(service.isCurrent(list.find((entry) => entry.current)!.id, await load(other))).toBe(false);
  });

  it('rejects bad arguments with a TypeError', async () => {
    const { service } = setUp({ mode });
    await expect(service.listForUser('')).rejects.toThrow(TypeError);
    await expect(service.listForUser('x'.repeat(256))).rejects.toThrow(TypeError);
    await expect(service.listForUser({} as unknown as string)).rejects.toThrow(TypeError);
    await expect(service.listForUser('a', { current: {} as unknown as SessionHandle })).rejects.toThrow(TypeError);
    await expect(service.revokeAllForUser('a', { except: 5 as unknown as string })).rejects.toThrow(TypeError);
  });
});

describe('SessionService with a store that cannot list per user', () => {
  /** A store without listByUser, as MemcachedStore is. */
  function listlessStore(): SessionStore {
    const inner = new MemoryStore({ clock: () => T0 });
    return {
      get: (key) => inner.get(key),
      set: (key, record) => inner.set(key, record),
      update: (key, patch) => inner.update(key, patch),
      destroy: (key) => inner.destroy(key),
      touch: (key, record) => inner.touch(key, record),
    };
  }

  it.each(['server', 'cookie'] as const)('rejects listing and revoke-all with USER_INDEX_UNSUPPORTED (%s mode), while sign-in still works', async (mode) => {
    const { service, signIn, whoIs } = setUp({ mode }, listlessStore());
    const cookie = await signIn('alice');
    expect(await whoIs(cookie)).toBe('alice');
    expect(service.canListSessions).toBe(false);
    await expect(service.listForUser('alice')).rejects.toMatchObject({ code: 'USER_INDEX_UNSUPPORTED' });
    await expect(service.revokeAllForUser('alice')).rejects.toBeInstanceOf(SessionError);
  });

  it('refuses maxSessionsPerUser at boot', () => {
    expect(() => resolveSessionOptions({ secret: SECRET, store: listlessStore(), maxSessionsPerUser: 3 })).toThrow(SessionConfigError);
    expect(() => resolveSessionOptions({ secret: SECRET, mode: 'cookie', revocationStore: listlessStore(), maxSessionsPerUser: 3 })).toThrow(
      /maxSessionsPerUser: needs a revocationStore that lists sessions per user/,
    );
  });

  it.each([0, -1, 1.5, '3', 10_001])('refuses maxSessionsPerUser = %p', (value) => {
    expect(() => resolveSessionOptions({ secret: SECRET, maxSessionsPerUser: value as number })).toThrow(/maxSessionsPerUser: must be a whole number/);
  });
});

// eslint-disable-next-line no-restricted-imports -- a test may run core against the real default store; core code itself still may not.
import { MemoryStore } from '../stores/memory.store';
import { SessionStoreError } from './errors';
import type { RandomSource } from './session-id';
import { SessionManager } from './session-manager';
import { resolveSessionOptions, type SessionOptions } from './session-options';
import type { SessionHandle } from './session';

/**
 * What the request hot path skips, and that skipping it changes no outcome: fresh sessions draw
 * no id until needed, verified and opened cookie values are remembered (genuine ones only), and
 * `commitNow()` reports a commit that needed no I/O.
 */

const SECRET = 'test-only secret: 0123456789abcdef0123456789abcdef';
const T0 = 1_700_000_000_000;
const MINUTE = 60_000;

type Data = SessionHandle & Record<string, unknown>;

function countingRandom(): { random: RandomSource; calls: () => number } {
  let calls = 0;
  let counter = 0;
  return {
    random: (size) => {
      calls++;
      const bytes = Buffer.alloc(size, 0x5a);
      bytes.writeUInt32BE(++counter, 0);
      return bytes;
    },
    calls: () => calls,
  };
}

function setUp(overrides: Partial<SessionOptions> = {}) {
  const clock = { now: T0 };
  const store = new MemoryStore({ clock: () => clock.now });
  const randomness = countingRandom();
  const manager = new SessionManager(resolveSessionOptions({ secret: SECRET, ...overrides }), {
    store,
    clock: () => clock.now,
    random: randomness.random,
  });
  const load = (cookie?: string) => manager.load({ cookieHeader: cookie === undefined ? undefined : `sid=${cookie}`, secure: false });
  /** Commits and returns the cookie value the response sets, if any. */
  const finish = async (session: SessionHandle): Promise<string | undefined> => {
    await manager.commit(session);
    const header = manager.setCookieHeader(session);
    return header === undefined ? undefined : decodeURIComponent(header.split(';', 1)[0].slice('sid='.length));
  };
  const signIn = async (): Promise<string> => {
    const session = await load();
    await session.login({ id: 'alice', profile: { name: 'Alice' } });
    const cookie = await finish(session);
    if (!cookie) throw new Error('login set no cookie');
    return cookie;
  };
  return { clock, store, manager, randomness, load, finish, signIn };
}

describe.each(['server', 'cookie'] as const)('SessionManager hot path (%s mode)', (mode) => {
  it('draws no id for an anonymous request whose empty session is not stored', async () => {
    const { load, finish, randomness } = setUp({ mode });
    for (let index = 0; index < 5; index++) {
      const session = await load();
      expect(await finish(session)).toBeUndefined();
    }
    expect(randomness.calls()).toBe(0);
  });

  it('draws the id once it is read, and keeps it', async () => {
    const { load, randomness } = setUp({ mode });
    const session = await load();
    const id = session.id;
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.id).toBe(id);
    expect(randomness.calls()).toBe(1);
  });

  it('serves the same cookie many times with the same session, and a change made by one request never reaches another through the cache', async () => {
    const { load, finish, signIn } = setUp({ mode });
    const cookie = await signIn();
    const first = (await load(cookie)) as Data;
    expect(first.user).toEqual({ id: 'alice', profile: { name: 'Alice' } });
    // A handler changes nested data without saving it anywhere (no commit of this request).
    (first.user as { profile: { name: string } }).profile.name = 'Mallory';

    for (let index = 0; index < 3; index++) {
      const again = (await load(cookie)) as Data;
      expect(again.user).toEqual({ id: 'alice', profile: { name: 'Alice' } });
      expect(await finish(again)).toBeUndefined(); // unchanged: nothing to write, no new cookie
    }
  });

  it('still refuses a forged value after the genuine one was remembered', async () => {
    const { load, signIn } = setUp({ mode });
    const cookie = await signIn();
    expect(((await load(cookie)) as Data).user).toBeDefined();
    const last = cookie.at(-1)!;
    const forged = `${cookie.slice(0, -1)}${last === 'A' ? 'B' : 'A'}`;
    for (let index = 0; index < 3; index++) {
      const session = (await load(forged)) as Data;
      expect(session.isNew).toBe(true);
      expect(session.user).toBeUndefined();
    }
  });

  it('still checks expiry on every request for a remembered value', async () => {
    const { load, signIn, clock } = setUp({ mode, idleTimeout: 10 * MINUTE });
    const cookie = await signIn();
    expect(((await load(cookie)) as Data).user).toBeDefined();
    clock.now += 10 * MINUTE + 1;
    expect(((await load(cookie)) as Data).user).toBeUndefined();
  });

  it('still sees a logout for a remembered value', async () => {
    const { load, signIn } = setUp({ mode });
    const cookie = await signIn();
    const session = await load(cookie);
    expect((session as Data).user).toBeDefined();
    await session.logout();
    const after = (await load(cookie)) as Data;
    expect(after.user).toBeUndefined();
    expect(after.isNew).toBe(true);
  });

  it('commitNow() is undefined when nothing needs a store write, and a promise for a change', async () => {
    const { load, signIn, manager } = setUp({ mode });
    const cookie = await signIn();
    const unchanged = await load(cookie);
    expect(manager.commitNow(unchanged)).toBeUndefined();
    const anonymous = await load();
    expect(manager.commitNow(anonymous)).toBeUndefined();

    const changed = (await load(cookie)) as Data;
    changed.visits = 1;
    const pending = manager.commitNow(changed);
    // Server-side: a store write to wait for. Client-side: the revocation list is read first
    // (a change to a session revoked meanwhile must not be acknowledged), then sealed.
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    expect(((await load(mode === 'server' ? cookie : decodeURIComponent(manager.setCookieHeader(changed)!.split(';', 1)[0].slice(4)))) as Data).visits).toBe(1);
  });

  it('commit() still returns a promise, rejected (not thrown) when an earlier store call failed', async () => {
    const { load, manager } = setUp({ mode });
    const session = await load();
    await expect(manager.commit(session)).resolves.toBeUndefined();
  });
});

describe('SessionManager hot path: concurrent first uses of one sealed cookie', () => {
  it('gives each concurrent request its own copy of the data', async () => {
    const { load, signIn } = setUp({ mode: 'cookie' });
    const cookie = await signIn();
    const sessions = (await Promise.all([load(cookie), load(cookie), load(cookie)])) as Data[];
    (sessions[0].user as { profile: { name: string } }).profile.name = 'changed';
    expect(sessions[1].user).toEqual({ id: 'alice', profile: { name: 'Alice' } });
    expect(sessions[2].user).toEqual({ id: 'alice', profile: { name: 'Alice' } });
    expect(sessions[0].user).not.toBe(sessions[1].user);
  });
});

describe('SessionManager hot path: a store failure is still reported for a remembered cookie', () => {
  it('rejects with SessionStoreError when the store fails on a value verified before', async () => {
    const { load, signIn, store } = setUp();
    const cookie = await signIn();
    await load(cookie);
    jest.spyOn(store, 'get').mockRejectedValueOnce(new Error('connection reset'));
    await expect(load(cookie)).rejects.toBeInstanceOf(SessionStoreError);
  });
});

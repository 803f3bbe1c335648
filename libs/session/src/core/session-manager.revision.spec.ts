// eslint-disable-next-line no-restricted-imports -- a test may run core against the real default store; core code itself still may not.
import { MemoryStore } from '../stores/memory.store';
import { SessionInterruptedError, type SessionStoreError } from './errors';
import { latestSession, type SessionHandle } from './session';
import { hashSessionId } from './session-id';
import { SessionManager } from './session-manager';
import { resolveSessionOptions } from './session-options';
import type { SessionPatch, SessionStore } from './session-store';

// Revisions (a late write never overwrites a newer one) and interrupted writes (a change to a
// session ended meanwhile is not acknowledged), in both modes.

const SECRET = 'test-only revision secret: 0123456789abcdef012345';

/** A memory store that remembers the patches it was given. */
class PatchSpy extends MemoryStore {
  readonly patches: SessionPatch[] = [];

  override update(key: string, patch: SessionPatch): Promise<boolean> {
    this.patches.push(patch);
    return super.update(key, patch);
  }
}

type Data = Record<string, unknown>;

function setUp(mode: 'server' | 'cookie', toHandlerError?: (error: SessionStoreError | SessionInterruptedError) => unknown) {
  const store = new PatchSpy();
  const manager = new SessionManager(resolveSessionOptions({ secret: SECRET, mode }), {
    store,
    ...(toHandlerError ? { toHandlerError } : {}),
  });
  const load = (cookie?: string) => manager.load({ cookieHeader: cookie, secure: false });
  const cookieOf = (session: SessionHandle): string => manager.setCookieHeader(session)!.split(';', 1)[0];
  /** A signed-in session with `visits: 0`, and the cookie the browser holds for it. */
  const signIn = async (): Promise<string> => {
    const session = await load();
    await session.login({ id: 'alice' });
    const live = latestSession(session) as unknown as Data;
    live.visits = 0;
    await manager.commit(latestSession(session));
    return cookieOf(latestSession(session));
  };
  return { store, manager, load, signIn, cookieOf };
}

describe('SessionManager: revisions (server-side)', () => {
  it('sends the revision it loaded with the patch, and the next one for a second write in the same request', async () => {
    const { store, manager, load, signIn } = setUp('server');
    const cookie = await signIn();
    const key = (await load(cookie)).id;
    await store.update(hashSessionId(key), { set: { elsewhere: true }, unset: [], touchedAt: Date.now(), expiresAt: Date.now() + 60_000 });
    const revision = (await store.get(hashSessionId(key)))!.revision!;
    store.patches.length = 0;

    const session = (await load(cookie)) as unknown as Data & SessionHandle;
    session.visits = 1;
    await session.save();
    session.visits = 2;
    await manager.commit(session);

    expect(store.patches.map((patch) => patch.revision)).toEqual([revision, revision + 1]);
    await expect(store.get(hashSessionId(key))).resolves.toMatchObject({ data: { visits: 2, elsewhere: true }, revision: revision + 2 });
  });

  it('reload() takes the revision the store holds now', async () => {
    const { store, manager, load, signIn } = setUp('server');
    const cookie = await signIn();
    const session = (await load(cookie)) as unknown as Data & SessionHandle;
    const key = hashSessionId(session.id);
    await store.update(key, { set: { elsewhere: 1 }, unset: [], touchedAt: Date.now(), expiresAt: Date.now() + 60_000 });
    await store.update(key, { set: { elsewhere: 2 }, unset: [], touchedAt: Date.now(), expiresAt: Date.now() + 60_000 });
    await session.reload();
    session.visits = 5;
    await manager.commit(session);
    expect(store.patches.at(-1)?.revision).toBe((await store.get(key))!.revision! - 1);
  });

  it('a store that keeps no revision gets patches without one', async () => {
    const memory = new MemoryStore();
    const patches: SessionPatch[] = [];
    // A store of an earlier design: records without a revision.
    const store: SessionStore = {
      get: async (key) => {
        const found = await memory.get(key);
        if (!found) return undefined;
        const { revision: _dropped, ...record } = found;
        return record;
      },
      set: (key, record) => memory.set(key, record),
      update: (key, patch) => (patches.push(patch), memory.update(key, patch)),
      destroy: (key) => memory.destroy(key),
      touch: (key, record) => memory.touch(key, record),
    };
    const manager = new SessionManager(resolveSessionOptions({ secret: SECRET }), { store });
    const first = (await manager.load({ cookieHeader: undefined, secure: false })) as unknown as Data & SessionHandle;
    first.visits = 1;
    await manager.commit(first);
    const cookie = manager.setCookieHeader(first)!.split(';', 1)[0];
    const again = (await manager.load({ cookieHeader: cookie, secure: false })) as unknown as Data & SessionHandle;
    again.visits = 2;
    await manager.commit(again);
    expect(patches).toHaveLength(1);
    expect(patches[0]).not.toHaveProperty('revision');
  });
});

describe('SessionManager: a record from before owners, read while it is signed out elsewhere', () => {
  it('is not a 409: the request only brought the owner up to date, which is quietly dropped', async () => {
    const { store, manager, load, signIn } = setUp('server');
    const cookie = await signIn();
    const key = hashSessionId((await load(cookie)).id);
    // As an earlier version stored it: signed in, no owner recorded.
    const { owner: _owner, ...legacy } = (await store.get(key))!;
    await store.set(key, legacy);
    const logout = await load(cookie);
    const reader = await load(cookie);
    await logout.logout();
    await manager.commit(logout);
    await expect(manager.commit(reader)).resolves.toBeUndefined();
    expect(manager.setCookieHeader(reader)).toMatch(/^sid=; .*Max-Age=0/i);
  });
});

describe.each(['server', 'cookie'] as const)('SessionManager (%s mode): a change to a session ended meanwhile', (mode) => {
  it('fails the commit with SessionInterruptedError, keeps the session ended and expires the cookie', async () => {
    const { manager, load, signIn } = setUp(mode);
    const cookie = await signIn();
    const logout = await load(cookie);
    const slow = (await load(cookie)) as unknown as Data & SessionHandle;

    await logout.logout();
    await manager.commit(logout);

    slow.visits = 1;
    await expect(manager.commit(slow)).rejects.toBeInstanceOf(SessionInterruptedError);
    expect(manager.setCookieHeader(slow)).toMatch(/^sid=; .*Max-Age=0/i);
    // The next request with the old cookie is anonymous: nothing was brought back.
    const next = (await load(cookie)) as unknown as Data & SessionHandle;
    expect(next.isNew).toBe(true);
    expect(next.visits).toBeUndefined();
  });

  it('save() rejects with the error toHandlerError makes of it, so the handler sees a 409', async () => {
    const mapped = new Error('mapped to a 409');
    const seen: unknown[] = [];
    const { manager, load, signIn } = setUp(mode, (error) => (seen.push(error), mapped));
    const cookie = await signIn();
    const logout = await load(cookie);
    const slow = (await load(cookie)) as unknown as Data & SessionHandle;
    await logout.logout();
    await manager.commit(logout);

    slow.visits = 1;
    await expect(slow.save()).rejects.toBe(mapped);
    expect(seen).toEqual([expect.any(SessionInterruptedError)]);
  });

  it('a request that changed nothing is not interrupted by a logout elsewhere', async () => {
    const { manager, load, signIn } = setUp(mode);
    const cookie = await signIn();
    const logout = await load(cookie);
    const reader = await load(cookie);
    await logout.logout();
    await manager.commit(logout);
    await expect(manager.commit(reader)).resolves.toBeUndefined();
  });

  it('a change to a live session is acknowledged as usual', async () => {
    const { manager, load, signIn, cookieOf } = setUp(mode);
    const cookie = await signIn();
    const session = (await load(cookie)) as unknown as Data & SessionHandle;
    session.visits = 1;
    await expect(manager.commit(session)).resolves.toBeUndefined();
    const next = (await load(mode === 'cookie' ? cookieOf(session) : cookie)) as unknown as Data;
    expect(next.visits).toBe(1);
  });
});

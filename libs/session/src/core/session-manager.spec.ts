import { parseSetCookie } from 'cookie';
// eslint-disable-next-line no-restricted-imports -- a test may run core against the real default store; core code itself still may not.
import { MemoryStore } from '../stores/memory.store';
import { signSessionId, verifySessionCookie } from './cookie-signer';
import { SessionStoreError } from './errors';
import { KeyRing } from './key-ring';
import { generateSessionId, hashSessionId, type RandomSource } from './session-id';
import { SessionManager } from './session-manager';
import { resolveSessionOptions, type SessionOptions } from './session-options';
import type { SessionRecord, SessionStore, SessionPatch } from './session-store';
import { latestSession, SessionHandle } from './session';

const SECRET = 'test-only secret: 0123456789abcdef0123456789abcdef';
const NEW_SECRET = 'test-only new secret: 0123456789abcdef0123456789';
const OLD_SECRET = 'test-only old secret: fedcba9876543210fedcba98765';
const OTHER_SECRET = 'test-only other secret: 00112233445566778899aabbccdd';

const T0 = 1_700_000_000_000;
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

// ---------------------------------------------------------------------------------------------
// Test doubles: an adjustable clock, a deterministic random source, a store that records calls.
// ---------------------------------------------------------------------------------------------

class TestClock {
  now = T0;
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

/**
 * Distinct, reproducible "random" bytes: a counter in the first four bytes. The counter is shared
 * by every manager of this file, so managers sharing a store never mint the same id.
 */
let randomCounter = 0;
function sequentialRandom(): RandomSource {
  return (size) => {
    const bytes = Buffer.alloc(size, 0xa5);
    bytes.writeUInt32BE(++randomCounter, 0);
    return bytes;
  };
}

type StoreMethod = 'get' | 'set' | 'update' | 'destroy' | 'touch';

interface StoreCall {
  readonly method: StoreMethod;
  readonly key: string;
  readonly record?: SessionRecord;
  readonly patch?: SessionPatch;
}

/** Wraps a store and records every call; any method can be made to reject. */
class SpyStore implements SessionStore {
  readonly calls: StoreCall[] = [];
  readonly failing = new Map<StoreMethod, unknown>();

  constructor(readonly inner: SessionStore) {}

  methods(): StoreMethod[] {
    return this.calls.map((call) => call.method);
  }

  reset(): void {
    this.calls.length = 0;
  }

  get(key: string): Promise<SessionRecord | undefined> {
    this.calls.push({ method: 'get', key });
    return this.#fail('get') ?? this.inner.get(key);
  }

  set(key: string, record: SessionRecord): Promise<void> {
    this.calls.push({ method: 'set', key, record });
    return this.#fail('set') ?? this.inner.set(key, record);
  }

  update(key: string, patch: SessionPatch): Promise<boolean> {
    this.calls.push({ method: 'update', key, patch });
    return this.#fail('update') ?? this.inner.update(key, patch);
  }

  destroy(key: string): Promise<void> {
    this.calls.push({ method: 'destroy', key });
    return this.#fail('destroy') ?? this.inner.destroy(key);
  }

  touch(key: string, record: SessionRecord): Promise<void> {
    this.calls.push({ method: 'touch', key, record });
    return this.#fail('touch') ?? this.inner.touch(key, record);
  }

  #fail(method: StoreMethod): Promise<never> | undefined {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- stores may reject with anything; the manager must wrap it
    return this.failing.has(method) ? Promise.reject(this.failing.get(method)) : undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Harness: one "request" = load, run the handler, commit, read the Set-Cookie header.
// ---------------------------------------------------------------------------------------------

interface Harness {
  readonly clock: TestClock;
  readonly memory: MemoryStore;
  readonly store: SpyStore;
  readonly manager: SessionManager;
  request(cookieHeader: string | undefined, handler?: Handler, secure?: boolean): Promise<Response>;
}

type Handler = (session: SessionHandle) => unknown;

interface Response {
  readonly session: SessionHandle;
  readonly setCookie: string | undefined;
}

interface HarnessOptions {
  /** A store clock of its own: a frozen one never expires anything, so only the manager decides. */
  readonly storeClock?: () => number;
  readonly clock?: TestClock;
  readonly memory?: MemoryStore;
}

function createHarness(overrides: Partial<SessionOptions> = {}, harness: HarnessOptions = {}): Harness {
  const clock = harness.clock ?? new TestClock();
  const memory = harness.memory ?? new MemoryStore({ clock: harness.storeClock ?? clock.read });
  const store = new SpyStore(memory);
  const manager = new SessionManager(resolveSessionOptions({ secret: SECRET, ...overrides }), {
    store,
    clock: clock.read,
    random: sequentialRandom(),
  });
  return {
    clock,
    memory,
    store,
    manager,
    async request(cookieHeader, handler, secure = false) {
      const session = await manager.load({ cookieHeader, secure });
      await handler?.(session);
      await manager.commit(session);
      // What `req.session` names after the handler: the replacement if it called regenerate().
      return { session: latestSession(session), setCookie: manager.setCookieHeader(session) };
    },
  };
}

/** The session's data as a writable bag (SessionData declares only `user`). */
function data(session: SessionHandle): Record<string, unknown> {
  return session as unknown as Record<string, unknown>;
}

/** What the browser sends back after receiving `setCookie`. */
function cookieFrom(setCookie: string | undefined): string {
  if (setCookie === undefined) throw new Error('expected a Set-Cookie header');
  return setCookie.split(';')[0];
}

function attributesOf(setCookie: string | undefined) {
  if (setCookie === undefined) throw new Error('expected a Set-Cookie header');
  return parseSetCookie(setCookie);
}

function shouldExpireCookie(setCookie: string | undefined, name = 'sid'): void {
  const cookie = attributesOf(setCookie);
  expect(cookie.name).toBe(name);
  expect(cookie.value).toBe('');
  expect(cookie.maxAge).toBe(0);
  expect(cookie.expires?.getTime()).toBe(0);
}

function shouldSetCookieFor(setCookie: string | undefined, session: SessionHandle, secrets: readonly string[] = [SECRET]): void {
  const { value } = attributesOf(setCookie);
  if (value === undefined || value === '') throw new Error(`expected a session cookie value in ${String(setCookie)}`);
  expect(verifySessionCookie(value, KeyRing.fromSecrets(secrets))).toEqual({ id: session.id, signedWithCurrentKey: true });
}

/** Seeds a record directly into a store and returns the cookie a browser would hold for it. */
async function seed(store: SessionStore, record: Partial<SessionRecord> & { data: Record<string, unknown> }, secrets = [SECRET]) {
  const id = generateSessionId();
  await store.set(hashSessionId(id), {
    createdAt: T0,
    touchedAt: T0,
    expiresAt: T0 + HOUR,
    ...record,
  });
  return { id, cookie: `sid=${signSessionId(id, KeyRing.fromSecrets(secrets))}` };
}

// ---------------------------------------------------------------------------------------------

describe('SessionManager', () => {
  describe('a request without a session cookie', () => {
    it.each<[string, string | undefined]>([
      ['no Cookie header', undefined],
      ['an empty Cookie header', ''],
      ['only other cookies', 'theme=dark; lang=en'],
      ['a valid value under another name', `xsid=${signSessionId(generateSessionId(), KeyRing.fromSecrets([SECRET]))}`],
    ])('%s: a new session, no store call at all, no Set-Cookie', async (_label, header) => {
      const { request, store } = createHarness();
      const { session, setCookie } = await request(header);
      expect(session.isNew).toBe(true);
      expect(session.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(store.calls).toEqual([]);
      expect(setCookie).toBeUndefined();
    });

    it('gives every fresh session its own id from the injected random source', async () => {
      const { request } = createHarness();
      const first = await request(undefined);
      const second = await request(undefined);
      expect(first.session.id).not.toBe(second.session.id);
    });
  });

  describe('a new session that holds data', () => {
    it('is written once and gets a HttpOnly, SameSite=Lax, Path=/ browser-session cookie', async () => {
      const { request, store, memory } = createHarness();
      const { session, setCookie } = await request(undefined, (s) => {
        data(s).cart = ['book'];
      });
      expect(store.methods()).toEqual(['set']);
      expect(store.calls[0].record).toEqual({ data: { cart: ['book'] }, createdAt: T0, touchedAt: T0, expiresAt: T0 + 30 * MINUTE });
      expect(await memory.get(hashSessionId(session.id))).toMatchObject({ data: { cart: ['book'] } });
      expect(session.isNew).toBe(false);

      expect(setCookie).toContain('HttpOnly');
      expect(setCookie).toContain('SameSite=Lax');
      expect(setCookie).toContain('Path=/');
      expect(setCookie).not.toContain('Secure');
      expect(setCookie).not.toContain('Max-Age');
      expect(setCookie).not.toContain('Expires');
      expect(setCookie).not.toContain('Domain');
      shouldSetCookieFor(setCookie, session);
    });

    it('is written once even when the handler also saved it explicitly', async () => {
      const { request, store } = createHarness();
      await request(undefined, async (s) => {
        data(s).cart = ['book'];
        await s.save();
      });
      expect(store.methods()).toEqual(['set']);
    });

    it('is not written when the handler emptied it again', async () => {
      const { request, store } = createHarness();
      const { setCookie } = await request(undefined, (s) => {
        data(s).cart = ['book'];
        delete data(s).cart;
      });
      expect(store.calls).toEqual([]);
      expect(setCookie).toBeUndefined();
    });
  });

  describe('a returning session', () => {
    async function returning(overrides: Partial<SessionOptions> = {}) {
      const harness = createHarness(overrides);
      const first = await harness.request(undefined, (s) => {
        data(s).cart = ['book'];
      });
      harness.store.reset();
      return { ...harness, first, cookie: cookieFrom(first.setCookie) };
    }

    it('loads its data; unchanged, it costs one read, no write and no Set-Cookie', async () => {
      const { request, store, first, cookie } = await returning();
      const { session, setCookie } = await request(cookie);
      expect(session.id).toBe(first.session.id);
      expect(session.isNew).toBe(false);
      expect(data(session).cart).toEqual(['book']);
      expect(store.methods()).toEqual(['get']);
      expect(setCookie).toBeUndefined();
    });

    it.each<[string, Handler, Record<string, unknown>, string[]]>([
      ['a changed value', (s) => void (data(s).cart = ['book', 'pen']), { cart: ['book', 'pen'] }, []],
      ['a new key', (s) => void (data(s).theme = 'dark'), { theme: 'dark' }, []],
      ['a removed key', (s) => void delete data(s).cart, {}, ['cart']],
      ['a nested mutation', (s) => void (data(s).cart as string[]).push('pen'), { cart: ['book', 'pen'] }, []],
    ])('with %s: one update of only the changed keys, no Set-Cookie', async (_label, handler, set, unset) => {
      const { request, store, clock, cookie } = await returning();
      clock.advance(SECOND);
      const { session, setCookie } = await request(cookie, handler);
      expect(store.methods()).toEqual(['get', 'update']);
      expect(store.calls[1].patch).toMatchObject({ set, unset, touchedAt: T0 + SECOND });
      expect((await store.inner.get(store.calls[1].key))!.data).toEqual(JSON.parse(JSON.stringify(session)));
      expect(setCookie).toBeUndefined();
    });

    it('keeps both changes when two concurrent requests change different keys', async () => {
      const { request, store, cookie } = await returning();
      const [first, second] = await Promise.all([
        request(cookie, (s) => void (data(s).theme = 'dark')),
        request(cookie, (s) => void (data(s).lang = 'fr')),
      ]);
      const stored = await store.inner.get(hashSessionId(first.session.id));
      expect(stored!.data).toMatchObject({ theme: 'dark', lang: 'fr' });
      expect(second.session.id).toBe(first.session.id);
    });

    it('is touched, not rewritten, once touchInterval (one minute by default) has passed', async () => {
      const { request, store, memory, clock, first, cookie } = await returning();
      clock.advance(MINUTE - 1);
      await request(cookie);
      expect(store.methods()).toEqual(['get']);

      store.reset();
      clock.advance(1);
      const { setCookie } = await request(cookie);
      expect(store.methods()).toEqual(['get', 'touch']);
      expect(setCookie).toBeUndefined();
      const stored = await memory.get(hashSessionId(first.session.id));
      expect(stored).toEqual({
        data: { cart: ['book'] },
        createdAt: T0,
        touchedAt: T0 + MINUTE,
        expiresAt: T0 + MINUTE + 30 * MINUTE,
        revision: 1, // a touch changes no data: the revision stays
      });
    });

    it('is touched on demand by session.touch()', async () => {
      const { request, store, cookie } = await returning();
      await request(cookie, (s) => s.touch());
      expect(store.methods()).toEqual(['get', 'touch']);
    });

    it('re-sends a persistent cookie when a touch extends its lifetime', async () => {
      const { request, store, clock, cookie } = await returning({ cookie: { maxAge: HOUR } });
      clock.advance(MINUTE);
      const { setCookie } = await request(cookie);
      expect(store.methods()).toEqual(['get', 'touch']);
      expect(attributesOf(setCookie).maxAge).toBe(HOUR / SECOND);
      expect(attributesOf(setCookie).expires?.getTime()).toBe(T0 + MINUTE + HOUR);
    });
  });

  describe.each<[string, boolean]>([
    ['a store that expires records itself', false],
    ['a store that never expires anything (the manager must)', true],
  ])('expiry with %s', (_label, frozenStore) => {
    const options = { idleTimeout: MINUTE, absoluteTimeout: 2 * MINUTE }; // touchInterval = 6 s

    function harness() {
      return createHarness(options, frozenStore ? { storeClock: () => T0 } : {});
    }

    async function started(h: Harness) {
      const first = await h.request(undefined, (s) => {
        data(s).cart = ['book'];
      });
      return { first, cookie: cookieFrom(first.setCookie) };
    }

    it('keeps the session one ms before the idle deadline', async () => {
      const h = harness();
      const { first, cookie } = await started(h);
      h.clock.advance(MINUTE - 1);
      const { session } = await h.request(cookie);
      expect(session.id).toBe(first.session.id);
      expect(data(session).cart).toEqual(['book']);
    });

    it('gives a fresh session and expires the cookie at the idle deadline', async () => {
      const h = harness();
      const { first, cookie } = await started(h);
      h.clock.advance(MINUTE);
      const { session, setCookie } = await h.request(cookie);
      expect(session.isNew).toBe(true);
      expect(session.id).not.toBe(first.session.id);
      expect(Object.keys(session)).toEqual([]);
      shouldExpireCookie(setCookie);
    });

    it('gives a fresh session at the absolute deadline however active', async () => {
      const h = harness();
      const { first, cookie } = await started(h);
      for (const at of [50 * SECOND, 100 * SECOND, 2 * MINUTE - 1]) {
        h.clock.now = T0 + at;
        const { session } = await h.request(cookie);
        expect(session.id).toBe(first.session.id);
      }
      h.clock.now = T0 + 2 * MINUTE;
      const { session, setCookie } = await h.request(cookie);
      expect(session.isNew).toBe(true);
      expect(session.id).not.toBe(first.session.id);
      shouldExpireCookie(setCookie);
    });

    it('issues a cookie for a new id, never the expired one, when the fresh session gets data', async () => {
      const h = harness();
      const { first, cookie } = await started(h);
      h.clock.advance(MINUTE);
      const { session, setCookie } = await h.request(cookie, (s) => {
        data(s).cart = ['pen'];
      });
      expect(session.id).not.toBe(first.session.id);
      shouldSetCookieFor(setCookie, session);
    });
  });

  describe('records with timestamps from the future', () => {
    it.each<[string, Partial<SessionRecord>]>([
      ['createdAt a day ahead', { createdAt: T0 + 24 * HOUR, expiresAt: T0 + 25 * HOUR }],
      ['touchedAt a day ahead', { touchedAt: T0 + 24 * HOUR, expiresAt: T0 + 25 * HOUR }],
    ])('%s: treated as expired', async (_label, timestamps) => {
      const { request, memory } = createHarness();
      const { id, cookie } = await seed(memory, { data: { user: { id: 1 } }, ...timestamps });
      const { session, setCookie } = await request(cookie);
      expect(session.id).not.toBe(id);
      expect(session.isNew).toBe(true);
      expect(data(session).user).toBeUndefined();
      shouldExpireCookie(setCookie);
    });
  });

  describe('an invalid cookie gives a fresh session, without asking the store', () => {
    const id = generateSessionId();
    const valid = signSessionId(id, KeyRing.fromSecrets([SECRET]));
    const flipped = valid.slice(0, 50) + (valid[50] === 'A' ? 'B' : 'A') + valid.slice(51);

    it.each([
      ['garbage', 'sid=garbage'],
      ['an empty value', 'sid='],
      ['signed with a wrong key', `sid=${signSessionId(id, KeyRing.fromSecrets([OTHER_SECRET]))}`],
      ['a tampered signature', `sid=${flipped}`],
      ['a quoted value', `sid="${valid}"`],
      ['a percent-encoded value', `sid=${valid.replace('.', '%2E')}`],
      ['an id without signature', `sid=${id}`],
    ])('%s', async (_label, header) => {
      const { request, memory, store } = createHarness();
      await memory.set(hashSessionId(id), { data: { user: { id: 1 } }, createdAt: T0, touchedAt: T0, expiresAt: T0 + HOUR });
      const { session, setCookie } = await request(header);
      expect(store.calls).toEqual([]);
      expect(session.isNew).toBe(true);
      expect(session.id).not.toBe(id);
      expect(data(session).user).toBeUndefined();
      shouldExpireCookie(setCookie);
    });

    it('a well-signed cookie for an unknown session: one read, then a fresh session', async () => {
      const { request, store } = createHarness();
      const { session, setCookie } = await request(`sid=${valid}`);
      expect(store.methods()).toEqual(['get']);
      expect(session.id).not.toBe(id);
      shouldExpireCookie(setCookie);
    });
  });

  describe('key rotation', () => {
    async function cookieSignedWithOldKey() {
      const clock = new TestClock();
      const memory = new MemoryStore({ clock: clock.read });
      const before = createHarness({ secret: [OLD_SECRET] }, { clock, memory });
      const first = await before.request(undefined, (s) => {
        data(s).cart = ['book'];
      });
      return { clock, memory, first, cookie: cookieFrom(first.setCookie) };
    }

    it('loads a cookie signed with an older key of the ring and re-issues it with the current key', async () => {
      const { clock, memory, first, cookie } = await cookieSignedWithOldKey();
      const after = createHarness({ secret: [NEW_SECRET, OLD_SECRET] }, { clock, memory });
      const { session, setCookie } = await after.request(cookie);
      expect(session.id).toBe(first.session.id);
      expect(data(session).cart).toEqual(['book']);
      expect(after.store.methods()).toEqual(['get']);
      shouldSetCookieFor(setCookie, session, [NEW_SECRET]);

      after.store.reset();
      const again = await after.request(cookieFrom(setCookie));
      expect(again.session.id).toBe(first.session.id);
      expect(again.setCookie).toBeUndefined();
    });

    it.each([
      ['the new key only', [NEW_SECRET]],
      ['a ring holding another key instead of the old one', [NEW_SECRET, OTHER_SECRET]],
    ])('refuses an old cookie once the old key is gone (%s)', async (_label, secrets) => {
      const { clock, memory, first, cookie } = await cookieSignedWithOldKey();
      const after = createHarness({ secret: secrets }, { clock, memory });
      const { session, setCookie } = await after.request(cookie);
      expect(session.id).not.toBe(first.session.id);
      expect(after.store.calls).toEqual([]);
      shouldExpireCookie(setCookie);
    });
  });

  describe('several session cookies in one header', () => {
    async function twoSessions() {
      const h = createHarness();
      const a = await h.request(undefined, (s) => void (data(s).owner = 'victim'));
      const b = await h.request(undefined, (s) => void (data(s).owner = 'attacker'));
      h.store.reset();
      return { h, a, b, cookieA: cookieFrom(a.setCookie), cookieB: cookieFrom(b.setCookie) };
    }

    it.each([
      ['victim first', (a: string, b: string) => `${a}; ${b}`],
      ['attacker first', (a: string, b: string) => `${b}; ${a}`],
      ['with other cookies between', (a: string, b: string) => `x=1; ${b}; y=2; ${a}`],
    ])('two different valid sessions (%s): trust neither (anti-fixation)', async (_label, header) => {
      const { h, a, b, cookieA, cookieB } = await twoSessions();
      const { session, setCookie } = await h.request(header(cookieA, cookieB));
      expect(session.isNew).toBe(true);
      expect([a.session.id, b.session.id]).not.toContain(session.id);
      expect(data(session).owner).toBeUndefined();
      expect(h.store.calls).toEqual([]);
      shouldExpireCookie(setCookie);
    });

    it.each([
      ['the same cookie twice', (a: string) => `${a}; ${a}`],
      ['a valid cookie after garbage', (a: string) => `sid=garbage; ${a}`],
      ['a valid cookie before a forged one', (a: string) => `${a}; sid=${'A'.repeat(43)}.${'B'.repeat(43)}`],
    ])('%s: loads the one valid session', async (_label, header) => {
      const { h, a, cookieA } = await twoSessions();
      const { session } = await h.request(header(cookieA));
      expect(session.id).toBe(a.session.id);
      expect(data(session).owner).toBe('victim');
    });
  });

  describe('regenerate()', () => {
    it('destroys the old record, gives a new id and stores the new data under it', async () => {
      const h = createHarness();
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      const oldId = first.session.id;
      h.store.reset();

      const { session, setCookie } = await h.request(cookieFrom(first.setCookie), async (s) => {
        const next = await s.regenerate();
        expect(next.isNew).toBe(true);
        expect(Object.keys(next)).toEqual([]);
        data(next).step = 2;
      });
      expect(session.id).not.toBe(oldId);
      expect(h.store.calls.map((call) => [call.method, call.key])).toEqual([
        ['get', hashSessionId(oldId)],
        ['destroy', hashSessionId(oldId)],
        ['set', hashSessionId(session.id)],
      ]);
      expect(await h.memory.get(hashSessionId(oldId))).toBeUndefined();
      expect(await h.memory.get(hashSessionId(session.id))).toMatchObject({ data: { step: 2 } });
      shouldSetCookieFor(setCookie, session);

      const old = await h.request(cookieFrom(first.setCookie));
      expect(old.session.id).not.toBe(oldId);
      expect(old.session.isNew).toBe(true);
    });

    it('resolves with the new session and freezes the old object with its old data', async () => {
      const h = createHarness();
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      const old = await h.manager.load({ cookieHeader: cookieFrom(first.setCookie), secure: false });
      const next = await old.regenerate();

      expect(next).not.toBe(old);
      expect(next).toBeInstanceOf(SessionHandle);
      expect(latestSession(old)).toBe(next);
      expect(old.id).toBe(first.session.id);
      expect(data(old).cart).toEqual(['book']);
      expect(Object.isFrozen(old)).toBe(true);
      expect(() => {
        data(old).cart = ['lost'];
      }).toThrow(TypeError);
      expect(() => {
        data(old).added = true;
      }).toThrow(TypeError);

      // Methods called on the old object act on its replacement.
      data(next).step = 2;
      await old.save();
      expect(await h.memory.get(hashSessionId(next.id))).toMatchObject({ data: { step: 2 } });
      await h.manager.commit(old);
      shouldSetCookieFor(h.manager.setCookieHeader(old), next);
    });

    it('with a callback, calls it and resolves with the new session', async () => {
      const h = createHarness();
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      const old = await h.manager.load({ cookieHeader: cookieFrom(first.setCookie), secure: false });
      const callback = jest.fn();
      const next = await old.regenerate(callback);
      expect(callback).toHaveBeenCalledTimes(1);
      expect(callback).toHaveBeenCalledWith();
      expect(next).toBe(latestSession(old));
      expect(next.id).not.toBe(old.id);
    });

    it('with a callback and a failing store, passes the SessionStoreError to it and resolves', async () => {
      const h = createHarness();
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      const old = await h.manager.load({ cookieHeader: cookieFrom(first.setCookie), secure: false });
      h.store.failing.set('destroy', new Error('down'));
      const callback = jest.fn();
      await expect(old.regenerate(callback)).resolves.toBeUndefined();
      expect(callback).toHaveBeenCalledTimes(1);
      expect(callback.mock.calls[0][0]).toBeInstanceOf(SessionStoreError);
      expect(latestSession(old)).toBe(old);
      expect(Object.isFrozen(old)).toBe(false);
    });

    it('a cookie lifetime set through the replaced object is applied or refused, not silently lost', async () => {
      const h = createHarness();
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      const old = await h.manager.load({ cookieHeader: cookieFrom(first.setCookie), secure: false });
      const next = await old.regenerate();
      data(next).user = { id: 1 };
      let outcome: string;
      try {
        old.cookie.maxAge = HOUR; // "remember me" through the reference a handler still holds
        await h.manager.commit(old);
        outcome = `Max-Age=${String(attributesOf(h.manager.setCookieHeader(old)).maxAge)}`;
      } catch (error) {
        outcome = error instanceof TypeError ? 'TypeError' : String(error);
      }
      // Either the write throws (as data writes to the old object do) or it reaches the live session.
      expect(['TypeError', `Max-Age=${HOUR / SECOND}`]).toContain(outcome);
    });

    it('left empty, expires the cookie the browser sent', async () => {
      const h = createHarness();
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      const { setCookie } = await h.request(cookieFrom(first.setCookie), (s) => s.regenerate());
      expect(await h.memory.get(hashSessionId(first.session.id))).toBeUndefined();
      shouldExpireCookie(setCookie);
    });

    it('on a session not yet stored makes no store call', async () => {
      const h = createHarness();
      await h.request(undefined, (s) => s.regenerate());
      expect(h.store.calls).toEqual([]);
    });
  });

  describe('destroy()', () => {
    const cookieOptions = { path: '/app', domain: 'example.com', sameSite: 'strict', secure: true } as const;

    it('removes the record and expires the cookie with the same Path, Domain, HttpOnly, SameSite and Secure', async () => {
      const h = createHarness({ cookie: cookieOptions });
      const first = await h.request(undefined, (s) => void (data(s).user = { id: 1 }));
      h.store.reset();

      const { session, setCookie } = await h.request(cookieFrom(first.setCookie), async (s) => {
        await s.destroy();
        // A write to a destroyed session throws instead of silently vanishing.
        expect(() => {
          data(s).afterDestroy = true;
        }).toThrow(TypeError);
      });
      expect(h.store.methods()).toEqual(['get', 'destroy']);
      expect(h.store.calls[1].key).toBe(hashSessionId(first.session.id));
      expect(await h.memory.get(hashSessionId(session.id))).toBeUndefined();

      shouldExpireCookie(setCookie);
      const issued = attributesOf(first.setCookie);
      const expired = attributesOf(setCookie);
      expect({ path: expired.path, domain: expired.domain, httpOnly: expired.httpOnly, sameSite: expired.sameSite, secure: expired.secure })
        .toEqual({ path: '/app', domain: 'example.com', httpOnly: true, sameSite: 'strict', secure: true });
      expect(expired.path).toBe(issued.path);
      expect(expired.domain).toBe(issued.domain);
      expect(expired.httpOnly).toBe(issued.httpOnly);
      expect(expired.sameSite).toBe(issued.sameSite);
      expect(expired.secure).toBe(issued.secure);
    });

    it.each<[string, Handler]>([
      ['destroy()', (s) => s.destroy()],
      ['logout()', (s) => s.logout()],
    ])('%s on a session never stored: no store call, no Set-Cookie', async (_label, handler) => {
      const h = createHarness();
      const { setCookie } = await h.request(undefined, handler);
      expect(h.store.calls).toEqual([]);
      expect(setCookie).toBeUndefined();
    });
  });

  describe('no resurrection', () => {
    it.each<[string, Handler]>([
      ['a change', (s) => void (data(s).cart = ['stale write'])],
      ['an explicit save of a change', async (s) => {
        data(s).cart = ['stale write'];
        await s.save();
      }],
    ])('a session destroyed by one request stays destroyed when another commits %s, which fails as interrupted', async (_label, change) => {
      const h = createHarness();
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      const cookie = cookieFrom(first.setCookie);
      const key = hashSessionId(first.session.id);

      // Two concurrent requests with the same cookie.
      const logout = await h.manager.load({ cookieHeader: cookie, secure: false });
      const slow = await h.manager.load({ cookieHeader: cookie, secure: false });

      await logout.destroy();
      await h.manager.commit(logout);
      shouldExpireCookie(h.manager.setCookieHeader(logout));

      // The slower request's write is not kept, and it is not acknowledged as if it were.
      await expect((async () => {
        await change(slow);
        await h.manager.commit(slow);
      })()).rejects.toMatchObject({ name: 'SessionInterruptedError', code: 'SESSION_INTERRUPTED' });
      expect(await h.memory.get(key)).toBeUndefined();
      expect(h.memory.size).toBe(0);
      shouldExpireCookie(h.manager.setCookieHeader(slow));
      expect(Object.keys(slow)).toEqual([]);
    });

    it('a due touch by the slower request does not recreate the record', async () => {
      const h = createHarness();
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      const cookie = cookieFrom(first.setCookie);
      h.clock.advance(MINUTE);
      const logout = await h.manager.load({ cookieHeader: cookie, secure: false });
      const slow = await h.manager.load({ cookieHeader: cookie, secure: false });
      await logout.destroy();
      await h.manager.commit(slow);
      expect(await h.memory.get(hashSessionId(first.session.id))).toBeUndefined();
    });
  });

  describe('saveUninitialized', () => {
    it.each<[boolean, StoreMethod[], boolean]>([
      [true, ['set'], true],
      [false, [], false],
    ])('saveUninitialized %s: an empty new session is stored: %j, gets a cookie: %s', async (saveUninitialized, methods, cookie) => {
      const h = createHarness({ saveUninitialized });
      const { session, setCookie } = await h.request(undefined);
      expect(h.store.methods()).toEqual(methods);
      if (cookie) {
        shouldSetCookieFor(setCookie, session);
        expect((await h.memory.get(hashSessionId(session.id)))?.data).toEqual({});
      } else {
        expect(setCookie).toBeUndefined();
      }
    });
  });

  describe('rolling', () => {
    it.each<[boolean, boolean]>([
      [true, true],
      [false, false],
    ])('rolling %s: an unchanged session gets its cookie again: %s', async (rolling, resent) => {
      const h = createHarness({ rolling });
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      for (let index = 0; index < 3; index++) {
        h.clock.advance(SECOND);
        const { session, setCookie } = await h.request(cookieFrom(first.setCookie));
        if (resent) shouldSetCookieFor(setCookie, session);
        else expect(setCookie).toBeUndefined();
      }
    });

    it('still sends no cookie to an anonymous visitor without data', async () => {
      const h = createHarness({ rolling: true });
      const { setCookie } = await h.request(undefined);
      expect(setCookie).toBeUndefined();
    });
  });

  describe('persistent cookies (cookie.maxAge)', () => {
    it.each<[string, number, number, number]>([
      // [label, cookie.maxAge, time since creation, expected Max-Age in seconds]
      ['shorter than the absolute timeout', HOUR, 0, 3_600],
      ['longer than the absolute timeout: capped at creation', 24 * HOUR, 0, 12 * 3_600],
      ['longer than what remains of the absolute timeout', 24 * HOUR, 11 * HOUR, 3_600],
      ['shorter than what remains', HOUR, 11 * HOUR - 30 * MINUTE, 3_600],
      ['whole seconds, rounded down', 1_500, 0, 1],
    ])('%s', async (_label, maxAge, elapsed, expectedSeconds) => {
      const h = createHarness({ cookie: { maxAge }, rolling: true });
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      const cookie = cookieFrom(first.setCookie);
      // stay active so the idle timeout never ends the session
      for (let at = 20 * MINUTE; at < elapsed; at += 20 * MINUTE) {
        h.clock.now = T0 + at;
        await h.request(cookie);
      }
      h.clock.now = T0 + elapsed;
      const { setCookie } = await h.request(cookie);
      const attributes = attributesOf(setCookie);
      expect(attributes.maxAge).toBe(expectedSeconds);
      const expectedExpires = T0 + elapsed + Math.min(maxAge, 12 * HOUR - elapsed);
      expect(attributes.expires?.getTime()).toBe(Math.floor(expectedExpires / SECOND) * SECOND);
    });

    it('session.cookie.maxAge sets a per-session lifetime that is stored and survives the next load', async () => {
      const h = createHarness();
      const first = await h.request(undefined, (s) => {
        data(s).user = { id: 1 };
        s.cookie.maxAge = 2 * HOUR;
      });
      expect(attributesOf(first.setCookie).maxAge).toBe(2 * 3_600);
      expect((await h.memory.get(hashSessionId(first.session.id)))?.cookieMaxAge).toBe(2 * HOUR);

      const { session, setCookie } = await h.request(cookieFrom(first.setCookie));
      expect(session.cookie.maxAge).toBe(2 * HOUR);
      expect(setCookie).toBeUndefined();
    });

    it('changing session.cookie.maxAge on a stored session writes it and re-sends the cookie', async () => {
      const h = createHarness();
      const first = await h.request(undefined, (s) => void (data(s).user = { id: 1 }));
      h.store.reset();
      const { setCookie } = await h.request(cookieFrom(first.setCookie), (s) => {
        s.cookie.maxAge = HOUR;
      });
      expect(h.store.methods()).toEqual(['get', 'update']);
      expect(h.store.calls[1].patch!.cookieMaxAge).toBe(HOUR);
      expect(attributesOf(setCookie).maxAge).toBe(3_600);
    });
  });

  describe('store keys', () => {
    it('are the SHA-256 hash of the id, never the raw id, for every operation', async () => {
      const h = createHarness();
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      h.clock.advance(MINUTE);
      await h.request(cookieFrom(first.setCookie)); // touch
      await h.request(cookieFrom(first.setCookie), (s) => void (data(s).cart = [])); // update
      const last = await h.request(cookieFrom(first.setCookie), (s) => s.regenerate()); // destroy

      const id = first.session.id;
      const used = new Set(h.store.calls.map((call) => call.key));
      expect(new Set(h.store.methods())).toEqual(new Set(['get', 'set', 'update', 'touch', 'destroy']));
      expect([...used]).toEqual([hashSessionId(id)]);
      expect(used.has(id)).toBe(false);
      expect(last.session.id).not.toBe(id);
      expect(await h.memory.get(id)).toBeUndefined();
    });
  });

  describe('a failing store', () => {
    const causes: Array<[string, unknown]> = [
      ['an Error', new Error('ECONNREFUSED')],
      ['a string', 'timeout'],
    ];

    async function stored(h: Harness) {
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      return cookieFrom(first.setCookie);
    }

    describe.each(causes)('rejecting with %s', (_label, cause) => {
      const message = cause instanceof Error ? cause.message : String(cause);

      it('makes load() reject with SessionStoreError keeping the cause', async () => {
        const h = createHarness();
        const cookie = await stored(h);
        h.store.failing.set('get', cause);
        const loading = h.manager.load({ cookieHeader: cookie, secure: false });
        await expect(loading).rejects.toBeInstanceOf(SessionStoreError);
        await expect(loading).rejects.toMatchObject({ code: 'SESSION_STORE_FAILED', cause, message: `Session store get failed: ${message}` });
      });

      it.each<[string, StoreMethod, boolean, Handler]>([
        ['commit() of a new session', 'set', false, (s) => void (data(s).cart = ['x'])],
        ['commit() of a changed session', 'update', true, (s) => void (data(s).cart = ['x'])],
        ['commit() of a due touch', 'touch', true, () => undefined],
      ])('makes %s reject with SessionStoreError', async (_name, method, existing, handler) => {
        const h = createHarness();
        const cookie = existing ? await stored(h) : undefined;
        h.clock.advance(MINUTE);
        const session = await h.manager.load({ cookieHeader: cookie, secure: false });
        await handler(session);
        h.store.failing.set(method, cause);
        const committing = h.manager.commit(session);
        await expect(committing).rejects.toBeInstanceOf(SessionStoreError);
        await expect(committing).rejects.toMatchObject({ cause, message: `Session store ${method} failed: ${message}` });
      });

      it.each<[string, Handler]>([
        ['save()', (s) => s.save()],
        ['regenerate()', (s) => s.regenerate()],
        ['destroy()', (s) => s.destroy()],
        ['login()', (s) => s.login({ id: 1 })],
      ])('makes %s reject with SessionStoreError', async (name, handler) => {
        const h = createHarness();
        const cookie = await stored(h);
        const session = await h.manager.load({ cookieHeader: cookie, secure: false });
        data(session).cart = ['changed'];
        h.store.failing.set(name === 'save()' ? 'update' : 'destroy', cause);
        await expect(Promise.resolve().then(() => handler(session))).rejects.toBeInstanceOf(SessionStoreError);
      });
    });

    it('does not call the store at all for a request without a cookie, so an outage cannot affect it', async () => {
      const h = createHarness();
      for (const method of ['get', 'set', 'update', 'destroy', 'touch'] as const) h.store.failing.set(method, new Error('down'));
      const { session, setCookie } = await h.request(undefined);
      expect(session.isNew).toBe(true);
      expect(setCookie).toBeUndefined();
    });
  });

  describe('prototype pollution through stored data', () => {
    it('keys like __proto__, constructor, id and save do not alter the session', async () => {
      const h = createHarness();
      const hostile = JSON.parse(
        '{"__proto__":{"polluted":true,"save":"x"},"constructor":"x","prototype":{},"id":"forged","save":"x","regenerate":1,"cookie":"x","isNew":true,"cart":["book"]}',
      ) as Record<string, unknown>;
      const { id, cookie } = await seed(h.memory, { data: hostile });
      h.store.reset();

      const { session, setCookie } = await h.request(cookie);
      expect(Object.getPrototypeOf(session)).toBe(SessionHandle.prototype);
      expect(session).toBeInstanceOf(SessionHandle);
      expect(session.constructor).toBe(SessionHandle);
      expect(session.id).toBe(id);
      expect(session.isNew).toBe(false);
      expect(typeof session.save).toBe('function');
      expect(typeof session.regenerate).toBe('function');
      expect(session.cookie.path).toBe('/');
      expect(data(session).polluted).toBeUndefined();
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.keys(session)).toEqual(['cart']);
      expect(h.store.methods()).toEqual(['get']);
      expect(setCookie).toBeUndefined();

      // The methods still work on it.
      const next = await session.regenerate();
      expect(next.id).not.toBe(id);
      expect(next).toBeInstanceOf(SessionHandle);
    });

    it('a changed session writes back only its own data keys', async () => {
      const h = createHarness();
      const hostile = JSON.parse('{"__proto__":{"polluted":true},"save":"x","cart":["book"]}') as Record<string, unknown>;
      const { cookie } = await seed(h.memory, { data: hostile });
      h.store.reset();
      await h.request(cookie, (s) => void (data(s).cart = ['pen']));
      expect(h.store.calls[1]).toMatchObject({ method: 'update', patch: { set: { cart: ['pen'] }, unset: [] } });
      expect(Object.keys(h.store.calls[1].patch!.set)).toEqual(['cart']);
    });
  });

  describe('login(user, { keep })', () => {
    it('rotates the id, destroys the anonymous record, keeps only listed keys and sets user', async () => {
      const h = createHarness();
      const anonymous = await h.request(undefined, (s) => {
        Object.assign(data(s), { cart: ['book'], theme: 'dark', returnTo: '/checkout' });
      });
      h.store.reset();
      const user = { id: 42, roles: ['admin'] };
      const { session, setCookie } = await h.request(cookieFrom(anonymous.setCookie), (s) =>
        s.login(user, { keep: ['cart', 'returnTo', 'missing', 'save', '__proto__'] }),
      );
      expect(session.id).not.toBe(anonymous.session.id);
      expect({ ...data(session) }).toEqual({ cart: ['book'], returnTo: '/checkout', user });
      expect(typeof session.save).toBe('function');
      expect(h.store.methods()).toEqual(['get', 'destroy', 'set']);
      expect(await h.memory.get(hashSessionId(anonymous.session.id))).toBeUndefined();
      expect((await h.memory.get(hashSessionId(session.id)))?.data).toEqual({ cart: ['book'], returnTo: '/checkout', user });
      shouldSetCookieFor(setCookie, session);
    });

    it.each<[string, readonly string[] | undefined]>([
      ['no keep option', undefined],
      ['an empty keep list', []],
    ])('with %s drops all anonymous data', async (_label, keep) => {
      const h = createHarness();
      const { session } = await h.request(undefined, async (s) => {
        data(s).cart = ['book'];
        await s.login({ id: 'u1' }, keep === undefined ? undefined : { keep });
      });
      expect({ ...data(session) }).toEqual({ user: { id: 'u1' } });
    });

    it('the pre-login cookie no longer reaches the session (fixation)', async () => {
      const h = createHarness();
      const planted = await h.request(undefined, (s) => void (data(s).cart = ['book']));
      const plantedCookie = cookieFrom(planted.setCookie);
      await h.request(plantedCookie, (s) => s.login({ id: 1 }));
      const attacker = await h.request(plantedCookie);
      expect(attacker.session.isNew).toBe(true);
      expect(data(attacker.session).user).toBeUndefined();
    });
  });

  describe('the Secure attribute', () => {
    it.each<[boolean | 'auto', boolean, boolean]>([
      ['auto', true, true],
      ['auto', false, false],
      [true, true, true],
      [true, false, true],
      [false, true, false],
      [false, false, false],
    ])('cookie.secure %p, request secure %p: Secure %p on the session cookie and on its expiry', async (secure, requestSecure, expected) => {
      const h = createHarness({ cookie: { secure } });
      const first = await h.request(undefined, (s) => void (data(s).cart = ['book']), requestSecure);
      expect(attributesOf(first.setCookie).secure ?? false).toBe(expected);
      const logout = await h.request(cookieFrom(first.setCookie), (s) => s.destroy(), requestSecure);
      expect(attributesOf(logout.setCookie).secure ?? false).toBe(expected);
    });

    it.each<[boolean | 'auto', boolean]>([
      ['auto', true],
      ['auto', false],
      [true, true],
      [true, false],
      [false, true],
      [false, false],
    ])('session.cookie.secure tells whether the cookie carries Secure (cookie.secure %p, request secure %p)', async (secure, requestSecure) => {
      const h = createHarness({ cookie: { secure } });
      const { session, setCookie } = await h.request(undefined, (s) => void (data(s).cart = ['book']), requestSecure);
      expect(session.cookie.secure).toBe(attributesOf(setCookie).secure ?? false);
    });
  });
});

import { parseSetCookie } from 'cookie';
// eslint-disable-next-line no-restricted-imports -- a test may run core against the real default store; core code itself still may not.
import { MemoryStore } from '../stores/memory.store';
import { maxSealedPlaintextBytes, MAX_COOKIE_BYTES, openCookieValue, sealCookieValue } from './cookie-sealer';
import { signSessionId } from './cookie-signer';
import { SessionError } from './errors';
import { KeyRing } from './key-ring';
import { encodeSealedSession, type SealedSession } from './sealed-session';
import { generateSessionId, hashSessionId, type RandomSource } from './session-id';
import { SessionManager, type DiscardedCookieReason } from './session-manager';
import { resolveSessionOptions, type SessionOptions } from './session-options';
import type { SessionPatch, SessionRecord, SessionStore } from './session-store';
import { latestSession, type SessionHandle } from './session';

const SECRET = 'test-only cookie-mode secret: 0123456789abcdef0123';
const NEW_SECRET = 'test-only cookie-mode new secret: 0123456789abcdef';
const OLD_SECRET = 'test-only cookie-mode old secret: fedcba9876543210';
const OTHER_SECRET = 'test-only cookie-mode other secret: 00112233445566';

const T0 = 1_700_000_000_000;
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const IDLE = 30 * MINUTE; // the default idleTimeout
const ABSOLUTE = 12 * HOUR; // the default absoluteTimeout

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

/** Distinct, reproducible "random" bytes (ids and nonces): a counter shared by every manager here. */
let randomCounter = 0;
function sequentialRandom(): RandomSource {
  return (size) => {
    const bytes = Buffer.alloc(size, 0x5a);
    bytes.writeUInt32BE(++randomCounter, 0);
    return bytes;
  };
}

type StoreMethod = 'get' | 'set' | 'update' | 'destroy' | 'touch';

interface StoreCall {
  readonly method: StoreMethod;
  readonly key: string;
  readonly record?: SessionRecord;
}

/** Wraps the revocation store and records every call. */
class SpyStore implements SessionStore {
  readonly calls: StoreCall[] = [];

  constructor(readonly inner: SessionStore) {}

  methods(): StoreMethod[] {
    return this.calls.map((call) => call.method);
  }

  get(key: string): Promise<SessionRecord | undefined> {
    this.calls.push({ method: 'get', key });
    return this.inner.get(key);
  }

  set(key: string, record: SessionRecord): Promise<void> {
    this.calls.push({ method: 'set', key, record });
    return this.inner.set(key, record);
  }

  update(key: string, patch: SessionPatch): Promise<boolean> {
    this.calls.push({ method: 'update', key });
    return this.inner.update(key, patch);
  }

  destroy(key: string): Promise<void> {
    this.calls.push({ method: 'destroy', key });
    return this.inner.destroy(key);
  }

  touch(key: string, record: SessionRecord): Promise<void> {
    this.calls.push({ method: 'touch', key, record });
    return this.inner.touch(key, record);
  }
}

// ---------------------------------------------------------------------------------------------
// Harness: one "request" = load, run the handler, commit, read the Set-Cookie header.
// ---------------------------------------------------------------------------------------------

type Handler = (session: SessionHandle, manager: SessionManager) => unknown;

interface Response {
  readonly session: SessionHandle;
  readonly setCookie: string | undefined;
}

interface Harness {
  readonly clock: TestClock;
  readonly memory: MemoryStore;
  readonly store: SpyStore;
  readonly manager: SessionManager;
  readonly reasons: DiscardedCookieReason[];
  request(cookieHeader: string | undefined, handler?: Handler): Promise<Response>;
}

interface HarnessOptions {
  readonly clock?: TestClock;
  /** The revocation list; shared between harnesses to model instances behind one store. */
  readonly memory?: MemoryStore;
}

function createHarness(overrides: Partial<SessionOptions> = {}, harness: HarnessOptions = {}): Harness {
  const clock = harness.clock ?? new TestClock();
  const memory = harness.memory ?? new MemoryStore({ clock: clock.read });
  const store = new SpyStore(memory);
  const reasons: DiscardedCookieReason[] = [];
  const manager = new SessionManager(resolveSessionOptions({ secret: SECRET, mode: 'cookie', ...overrides }), {
    store,
    clock: clock.read,
    random: sequentialRandom(),
    onDiscardedCookie: (reason) => reasons.push(reason),
  });
  return {
    clock,
    memory,
    store,
    manager,
    reasons,
    async request(cookieHeader, handler) {
      const session = await manager.load({ cookieHeader, secure: false });
      await handler?.(session, manager);
      await manager.commit(session);
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

function valueOf(cookie: string): string {
  return cookie.slice(cookie.indexOf('=') + 1);
}

/** Opens the sealed value of a Set-Cookie (or `sid=...` pair) and returns the payload, or undefined. */
function payloadOf(setCookieOrPair: string | undefined, secrets: readonly string[] = [SECRET]): SealedSession | undefined {
  const opened = openCookieValue(valueOf(cookieFrom(setCookieOrPair)), KeyRing.fromSecrets(secrets), 'sid');
  return opened && (JSON.parse(opened.plaintext) as SealedSession);
}

/** A cookie sealed by hand, as a server with `secrets` would have issued it under `context`. */
function sealedCookie(plaintext: string, secrets: readonly string[] = [SECRET], context = 'sid'): string {
  return `sid=${sealCookieValue(plaintext, KeyRing.fromSecrets(secrets), context)}`;
}

function sealedSessionCookie(payload: Partial<SealedSession>, secrets: readonly string[] = [SECRET]): { id: string; cookie: string } {
  const id = payload.i ?? generateSessionId();
  const full: SealedSession = { v: 1, c: T0, t: T0, d: { cart: ['book'] }, ...payload, i: id };
  return { id, cookie: sealedCookie(encodeSealedSession(full), secrets) };
}

function shouldSetSealedCookie(setCookie: string | undefined): string {
  const cookie = parseSetCookie(setCookie ?? '');
  expect(cookie.name).toBe('sid');
  expect(cookie.value).toMatch(/^[A-Za-z0-9_-]+$/); // sealed base64url, not `<id>.<signature>`
  expect(cookie.value).not.toContain('.');
  expect(cookie.maxAge).toBeUndefined();
  return cookie.value!;
}

function shouldExpireCookie(setCookie: string | undefined): void {
  if (setCookie === undefined) throw new Error('expected an expiring Set-Cookie header');
  const cookie = parseSetCookie(setCookie);
  expect(cookie.name).toBe('sid');
  expect(cookie.value).toBe('');
  expect(cookie.maxAge).toBe(0);
  expect(cookie.expires?.getTime()).toBe(0);
}

async function shouldBeRevoked(memory: MemoryStore, id: string, expiresAt: number): Promise<void> {
  expect(await memory.get(hashSessionId(id))).toMatchObject({ expiresAt });
}

/** Issues a cookie holding `{ cart: ['book'] }` and returns it as the browser would send it. */
async function issuedCookie(harness: Harness): Promise<{ id: string; cookie: string }> {
  const { session, setCookie } = await harness.request(undefined, (s) => {
    data(s).cart = ['book'];
  });
  return { id: session.id, cookie: cookieFrom(setCookie) };
}

const WRITES: readonly StoreMethod[] = ['set', 'update', 'touch', 'destroy'];

function writesOf(store: SpyStore): StoreMethod[] {
  return store.methods().filter((method) => WRITES.includes(method));
}

// ---------------------------------------------------------------------------------------------

describe('SessionManager in cookie mode (client-side sessions)', () => {
  describe('a new session that holds data', () => {
    it('gets a sealed HttpOnly, SameSite=Lax, Path=/ cookie and causes no store call at all', async () => {
      const { request, store } = createHarness();
      const { session, setCookie } = await request(undefined, (s) => {
        data(s).cart = ['book'];
      });

      shouldSetSealedCookie(setCookie);
      expect(setCookie).toContain('HttpOnly');
      expect(setCookie).toContain('SameSite=Lax');
      expect(setCookie).toContain('Path=/');
      expect(setCookie).not.toContain('Secure');
      expect(payloadOf(setCookie)).toEqual({ v: 1, i: session.id, c: T0, t: T0, d: { cart: ['book'] } });
      expect(store.calls).toEqual([]);
    });

    it('does not reveal its data in the cookie value (it is encrypted, not just signed)', async () => {
      const { request } = createHarness();
      const { setCookie } = await request(undefined, (s) => {
        data(s).secretNote = 'plaintext-marker';
      });
      const value = shouldSetSealedCookie(setCookie);
      expect(Buffer.from(value, 'base64url').toString('latin1')).not.toContain('plaintext-marker');
    });

    it('loads its data on the next request, with no store write', async () => {
      const harness = createHarness();
      const { id, cookie } = await issuedCookie(harness);
      harness.store.calls.length = 0;

      const { session, setCookie } = await harness.request(cookie);
      expect(session.isNew).toBe(false);
      expect(session.id).toBe(id);
      expect(data(session).cart).toEqual(['book']);
      expect(setCookie).toBeUndefined();
      expect(harness.store.methods()).toEqual(['get']); // the revocation check only
      expect(harness.store.calls[0].key).toBe(hashSessionId(id));
    });

    it('an empty new session: no cookie, no store call', async () => {
      const { request, store } = createHarness();
      const { session, setCookie } = await request(undefined);
      expect(session.isNew).toBe(true);
      expect(setCookie).toBeUndefined();
      expect(store.calls).toEqual([]);
    });
  });

  describe('a loaded session', () => {
    it('unchanged: no Set-Cookie, no store call but the revocation get', async () => {
      const harness = createHarness();
      const { cookie } = await issuedCookie(harness);
      harness.store.calls.length = 0;
      harness.clock.advance(10 * SECOND); // well within the touch interval

      const { setCookie } = await harness.request(cookie, (s) => {
        expect(data(s).cart).toEqual(['book']);
      });
      expect(setCookie).toBeUndefined();
      expect(harness.store.methods()).toEqual(['get']);
    });

    it.each<[string, Handler]>([
      ['a key changed', (s) => void (data(s).cart = ['book', 'pen'])],
      ['a key added', (s) => void (data(s).theme = 'dark')],
      ['a key removed', (s) => void delete data(s).cart],
    ])('%s: a new sealed cookie with the new data, no store write', async (_label, handler) => {
      const harness = createHarness();
      const { id, cookie } = await issuedCookie(harness);
      harness.store.calls.length = 0;
      harness.clock.advance(5 * SECOND);

      const { session, setCookie } = await harness.request(cookie, handler);
      shouldSetSealedCookie(setCookie);
      expect(cookieFrom(setCookie)).not.toBe(cookie);
      expect(payloadOf(setCookie)).toEqual({ v: 1, i: id, c: T0, t: T0 + 5 * SECOND, d: { ...data(session) } });
      expect(writesOf(harness.store)).toEqual([]);
    });

    it('changed data: the OLD cookie still opens with the old data (known client-side trade-off: a data change revokes nothing)', async () => {
      const harness = createHarness();
      const { id, cookie: oldCookie } = await issuedCookie(harness);
      const { setCookie } = await harness.request(oldCookie, (s) => {
        data(s).cart = [];
      });
      expect(cookieFrom(setCookie)).not.toBe(oldCookie);

      const replay = await harness.request(oldCookie);
      expect(replay.session.isNew).toBe(false);
      expect(replay.session.id).toBe(id);
      expect(data(replay.session).cart).toEqual(['book']);
    });

    it('a touch due after the touch interval re-seals the cookie with the new touchedAt, with no store write', async () => {
      const harness = createHarness();
      const { id, cookie } = await issuedCookie(harness);
      harness.clock.advance(2 * MINUTE); // the touch interval is min(1 min, idle / 10)
      harness.store.calls.length = 0;

      const { setCookie } = await harness.request(cookie);
      shouldSetSealedCookie(setCookie);
      expect(payloadOf(setCookie)).toEqual({ v: 1, i: id, c: T0, t: T0 + 2 * MINUTE, d: { cart: ['book'] } });
      expect(harness.store.methods()).toEqual(['get']);

      // The touched cookie outlives the original one's idle deadline.
      harness.clock.advance(IDLE - MINUTE); // T0 + 31 min: the first cookie is idle-expired
      expect((await harness.request(cookie)).session.isNew).toBe(true);
      const touched = await harness.request(cookieFrom(setCookie));
      expect(touched.session.isNew).toBe(false);
      expect(data(touched.session).cart).toEqual(['book']);
    });

    it('no touch before the touch interval: no Set-Cookie', async () => {
      const harness = createHarness();
      const { cookie } = await issuedCookie(harness);
      harness.clock.advance(59 * SECOND);
      const { setCookie } = await harness.request(cookie);
      expect(setCookie).toBeUndefined();
    });

    it('an explicit touch() re-seals even before the interval', async () => {
      const harness = createHarness();
      const { cookie } = await issuedCookie(harness);
      harness.clock.advance(5 * SECOND);
      const { setCookie } = await harness.request(cookie, (s) => s.touch());
      expect(payloadOf(setCookie)?.t).toBe(T0 + 5 * SECOND);
      expect(writesOf(harness.store)).toEqual([]);
    });
  });

  describe('expiry is enforced from inside the sealed payload', () => {
    it.each<[string, Partial<SealedSession>]>([
      ['idle expired (touched exactly idleTimeout ago)', { c: T0 - HOUR, t: T0 - IDLE }],
      ['idle expired long ago', { c: T0 - 5 * HOUR, t: T0 - 4 * HOUR }],
      ['absolute expired though recently touched', { c: T0 - ABSOLUTE, t: T0 - MINUTE }],
      ['touchedAt in the future', { c: T0, t: T0 + 2 * MINUTE }],
      ['createdAt in the future', { c: T0 + HOUR, t: T0 }],
      ['both far in the future (would never idle out)', { c: T0 + 365 * 24 * HOUR, t: T0 + 365 * 24 * HOUR }],
    ])('%s: a fresh session and an expiring Set-Cookie, no store call', async (_label, payload) => {
      const { request, store, reasons } = createHarness();
      const { cookie } = sealedSessionCookie(payload);

      const { session, setCookie } = await request(cookie);
      expect(session.isNew).toBe(true);
      expect(data(session).cart).toBeUndefined();
      shouldExpireCookie(setCookie);
      expect(store.calls).toEqual([]);
      expect(reasons).toEqual(['unknown-or-expired']);
    });

    it.each<[string, Partial<SealedSession>]>([
      ['idle deadline not yet reached (1 ms left)', { c: T0 - HOUR, t: T0 - IDLE + 1 }],
      ['absolute deadline not yet reached (1 ms left)', { c: T0 - ABSOLUTE + 1, t: T0 - MINUTE }],
    ])('%s: still loads', async (_label, payload) => {
      const { request } = createHarness();
      const { id, cookie } = sealedSessionCookie(payload);
      const { session } = await request(cookie);
      expect(session.isNew).toBe(false);
      expect(session.id).toBe(id);
      expect(data(session).cart).toEqual(['book']);
    });
  });

  describe('a cookie that is not an authentic, well-formed sealed session gives a fresh session and never throws', () => {
    const validId = generateSessionId();
    const wellFormed = { v: 1, i: validId, c: T0, t: T0, d: { cart: ['book'] } };
    const genuine = (): string => sealedCookie(JSON.stringify(wellFormed));
    const flipAt = (cookie: string, index: number): string => {
      const value = valueOf(cookie);
      const position = index < 0 ? value.length + index : index;
      const replacement = value[position] === 'A' ? 'B' : 'A';
      return `sid=${value.slice(0, position)}${replacement}${value.slice(position + 1)}`;
    };

    it.each<[string, () => string, DiscardedCookieReason]>([
      ['tampered: one character of the ciphertext flipped', () => flipAt(genuine(), 40), 'invalid-signature'],
      ['tampered: one character of the tag flipped', () => flipAt(genuine(), -5), 'invalid-signature'],
      ['tampered: one character of the key id flipped', () => flipAt(genuine(), 2), 'invalid-signature'],
      ['truncated', () => genuine().slice(0, -6), 'invalid-signature'],
      ['truncated to the header', () => genuine().slice(0, 30), 'invalid-signature'],
      ['sealed with another secret', () => sealedCookie(JSON.stringify(wellFormed), [OTHER_SECRET]), 'invalid-signature'],
      ['sealed for another cookie name (context)', () => sealedCookie(JSON.stringify(wellFormed), [SECRET], 'other'), 'invalid-signature'],
      ['a server-mode signed id cookie', () => `sid=${signSessionId(validId, KeyRing.fromSecrets([SECRET]))}`, 'invalid-signature'],
      ['an empty value', () => 'sid=', 'invalid-signature'],
      ['garbage', () => 'sid=%00<script>', 'invalid-signature'],
      ['authentic but not JSON', () => sealedCookie('not json {'), 'invalid-signature'],
      ['authentic but JSON null', () => sealedCookie('null'), 'invalid-signature'],
      ['authentic but an array', () => sealedCookie('[1,2,3]'), 'invalid-signature'],
      ['authentic but format v:2', () => sealedCookie(JSON.stringify({ ...wellFormed, v: 2 })), 'invalid-signature'],
      ['authentic but no version', () => sealedCookie(JSON.stringify({ ...wellFormed, v: undefined })), 'invalid-signature'],
      ['authentic but a malformed id', () => sealedCookie(JSON.stringify({ ...wellFormed, i: 'short' })), 'invalid-signature'],
      ['authentic but a numeric id', () => sealedCookie(JSON.stringify({ ...wellFormed, i: 42 })), 'invalid-signature'],
      ['authentic but string timestamps', () => sealedCookie(JSON.stringify({ ...wellFormed, c: String(T0), t: String(T0) })), 'invalid-signature'],
      ['authentic but a missing touchedAt', () => sealedCookie(JSON.stringify({ ...wellFormed, t: undefined })), 'invalid-signature'],
      ['authentic but data an array', () => sealedCookie(JSON.stringify({ ...wellFormed, d: ['book'] })), 'invalid-signature'],
      ['authentic but data null', () => sealedCookie(JSON.stringify({ ...wellFormed, d: null })), 'invalid-signature'],
      ['authentic but data a string', () => sealedCookie(JSON.stringify({ ...wellFormed, d: 'cart' })), 'invalid-signature'],
      ['authentic but a negative cookie maxAge', () => sealedCookie(JSON.stringify({ ...wellFormed, m: -1 })), 'invalid-signature'],
    ])('%s', async (_label, cookie, reason) => {
      const { request, store, reasons } = createHarness();
      const { session, setCookie } = await request(cookie());

      expect(session.isNew).toBe(true);
      expect(data(session).cart).toBeUndefined();
      shouldExpireCookie(setCookie);
      expect(store.calls).toEqual([]);
      expect(reasons).toEqual([reason]);
    });

    it('control: the genuine cookie these cases are made from loads', async () => {
      const { request, reasons } = createHarness();
      const { session } = await request(genuine());
      expect(session.isNew).toBe(false);
      expect(session.id).toBe(validId);
      expect(data(session).cart).toEqual(['book']);
      expect(reasons).toEqual([]);
    });

    it('a forged cookie next to data written in the same request: a fresh sealed session with a new id', async () => {
      const { request } = createHarness();
      const { session, setCookie } = await request(sealedCookie(JSON.stringify(wellFormed), [OTHER_SECRET]), (s) => {
        data(s).theme = 'dark';
      });
      expect(session.id).not.toBe(validId);
      expect(payloadOf(setCookie)).toMatchObject({ i: session.id, d: { theme: 'dark' } });
    });
  });

  describe('several cookies of the same name in one header', () => {
    it('two different authentic sessions: trust neither (a tossed cookie must not fixate one)', async () => {
      const { request, reasons } = createHarness();
      const first = sealedSessionCookie({ d: { who: 'victim' } });
      const second = sealedSessionCookie({ d: { who: 'attacker' } });
      const { session } = await request(`${first.cookie}; ${second.cookie}`);
      expect(session.isNew).toBe(true);
      expect(data(session).who).toBeUndefined();
      expect(reasons).toEqual(['ambiguous-duplicates']);
    });

    it('a forged cookie next to an authentic one: the authentic one loads', async () => {
      const { request } = createHarness();
      const genuine = sealedSessionCookie({});
      const forged = sealedSessionCookie({}, [OTHER_SECRET]);
      const { session } = await request(`${forged.cookie}; ${genuine.cookie}`);
      expect(session.id).toBe(genuine.id);
    });
  });

  describe('key rotation', () => {
    it('a cookie sealed under [old] loads under [new, old] and is re-sealed with the new key', async () => {
      const clock = new TestClock();
      const before = createHarness({ secret: [OLD_SECRET] }, { clock });
      const { id, cookie } = await issuedCookie(before);
      const after = createHarness({ secret: [NEW_SECRET, OLD_SECRET] }, { clock });

      const { session, setCookie } = await after.request(cookie);
      expect(session.isNew).toBe(false);
      expect(data(session).cart).toEqual(['book']);
      shouldSetSealedCookie(setCookie);
      expect(payloadOf(setCookie, [NEW_SECRET])).toEqual({ v: 1, i: id, c: T0, t: T0, d: { cart: ['book'] } });
      expect(payloadOf(setCookie, [OLD_SECRET])).toBeUndefined();
      expect(writesOf(after.store)).toEqual([]);

      // Once re-sealed, the cookie no longer needs re-issuing.
      expect((await after.request(cookieFrom(setCookie))).setCookie).toBeUndefined();
    });

    it('a cookie sealed under [old] is refused under [new] alone', async () => {
      const clock = new TestClock();
      const { cookie } = await issuedCookie(createHarness({ secret: [OLD_SECRET] }, { clock }));
      const after = createHarness({ secret: [NEW_SECRET] }, { clock });

      const { session, setCookie } = await after.request(cookie);
      expect(session.isNew).toBe(true);
      shouldExpireCookie(setCookie);
      expect(after.reasons).toEqual(['invalid-signature']);
    });
  });

  describe('logout() and destroy() revoke the id until the last moment a copy could be accepted', () => {
    // Each row: the cookie's timestamps, and when the request logs out; the revocation lasts
    // until min(now + idle, createdAt + absolute).
    it.each<[string, 'logout' | 'destroy', { c: number; t: number }, number]>([
      ['logout, bounded by idle', 'logout', { c: T0, t: T0 }, T0 + 10 * MINUTE + IDLE],
      ['destroy, bounded by idle', 'destroy', { c: T0, t: T0 }, T0 + 10 * MINUTE + IDLE],
      ['logout, bounded by absolute', 'logout', { c: T0 + 10 * MINUTE - ABSOLUTE + 5 * MINUTE, t: T0 + 9 * MINUTE }, T0 + 15 * MINUTE],
      ['destroy, bounded by absolute', 'destroy', { c: T0 + 10 * MINUTE - ABSOLUTE + 5 * MINUTE, t: T0 + 9 * MINUTE }, T0 + 15 * MINUTE],
    ])('%s', async (_label, method, timestamps, revokedUntil) => {
      const harness = createHarness();
      const { memory, clock, store } = harness;
      const { id, cookie } = sealedSessionCookie({ ...timestamps, d: { user: { id: 'alice' } } });
      clock.advance(10 * MINUTE);

      const { setCookie } = await harness.request(cookie, (s) => (method === 'logout' ? s.logout() : s.destroy()));
      shouldExpireCookie(setCookie);
      expect(store.methods()).toEqual(['get', 'set']);
      expect(store.calls[1].key).toBe(hashSessionId(id));
      await shouldBeRevoked(memory, id, revokedUntil);

      // A replayed copy of the old cookie is an anonymous fresh session.
      clock.advance(MINUTE);
      const replay = await harness.request(cookie);
      expect(replay.session.isNew).toBe(true);
      expect(replay.session.id).not.toBe(id);
      expect(data(replay.session).user).toBeUndefined();
      shouldExpireCookie(replay.setCookie);
      expect(harness.reasons).toEqual(['revoked']);

      // The entry lasts exactly until its deadline, then the store drops it.
      clock.now = revokedUntil - 1;
      expect(await memory.get(hashSessionId(id))).toBeDefined();
      clock.now = revokedUntil;
      expect(await memory.get(hashSessionId(id))).toBeUndefined();
      // ...by which time the cookie itself is expired anyway.
      harness.reasons.length = 0;
      expect((await harness.request(cookie)).session.isNew).toBe(true);
      expect(harness.reasons).toEqual(['unknown-or-expired']);
    });

    it('a cookie sealed by an instance whose clock runs 30 s ahead (accepted skew) stays revoked for as long as it is accepted', async () => {
      // The load tolerates timestamps up to the touch interval (1 min) in the future, so a copy
      // touched at T0 + 30 s is accepted until T0 + 30 s + idle. The revocation must last as long.
      const harness = createHarness();
      const { cookie } = sealedSessionCookie({ c: T0, t: T0 + 30 * SECOND });
      const { setCookie } = await harness.request(cookie, (s) => s.logout());
      shouldExpireCookie(setCookie);

      harness.clock.now = T0 + IDLE + 10 * SECOND; // the copy's own idle deadline is T0 + idle + 30 s
      const replay = await harness.request(cookie);
      expect(replay.session.isNew).toBe(true);
      expect(data(replay.session).cart).toBeUndefined();
    });

    it('logout of a session that was never issued (no cookie) writes nothing', async () => {
      const { request, store } = createHarness();
      const { setCookie } = await request(undefined, (s) => {
        data(s).cart = ['book'];
        return s.logout();
      });
      expect(setCookie).toBeUndefined();
      expect(store.calls).toEqual([]);
    });
  });

  describe('login() rotates the id', () => {
    it('puts a new id in the new cookie and revokes the old id', async () => {
      const harness = createHarness();
      const { id: oldId, cookie: oldCookie } = await issuedCookie(harness);
      harness.clock.advance(MINUTE / 2);
      harness.store.calls.length = 0;

      const { session, setCookie } = await harness.request(oldCookie, (s) => s.login({ id: 'alice' }, { keep: ['cart'] }));
      expect(session.id).not.toBe(oldId);
      expect(payloadOf(setCookie)).toEqual({
        v: 1,
        i: session.id,
        c: T0 + MINUTE / 2,
        t: T0 + MINUTE / 2,
        d: { cart: ['book'], user: { id: 'alice' } },
      });
      expect(harness.store.methods()).toEqual(['get', 'set']);
      await shouldBeRevoked(harness.memory, oldId, T0 + MINUTE / 2 + IDLE);

      const replay = await harness.request(oldCookie);
      expect(replay.session.isNew).toBe(true);
      expect(data(replay.session).cart).toBeUndefined();

      const next = await harness.request(cookieFrom(setCookie));
      expect(next.session.isNew).toBe(false);
      expect(data(next.session).user).toEqual({ id: 'alice' });
    });

    it('on a session that had no cookie: a new sealed cookie, nothing to revoke, no store call', async () => {
      const { request, store } = createHarness();
      const { session, setCookie } = await request(undefined, (s) => s.login({ id: 'bob' }));
      expect(payloadOf(setCookie)).toMatchObject({ i: session.id, d: { user: { id: 'bob' } } });
      expect(store.calls).toEqual([]);
    });
  });

  describe('several instances', () => {
    it('sharing one revocation store: a logout on A makes B refuse the cookie', async () => {
      const clock = new TestClock();
      const shared = new MemoryStore({ clock: clock.read });
      const a = createHarness({}, { clock, memory: shared });
      const b = createHarness({}, { clock, memory: shared });
      const { cookie } = await issuedCookie(a);
      expect((await b.request(cookie)).session.isNew).toBe(false);

      await a.request(cookie, (s) => s.logout());
      const onB = await b.request(cookie);
      expect(onB.session.isNew).toBe(true);
      expect(b.reasons).toEqual(['revoked']);
    });

    it('with separate revocation stores: B still accepts the logged-out cookie (documented trade-off of the in-memory default)', async () => {
      const clock = new TestClock();
      const a = createHarness({}, { clock });
      const b = createHarness({}, { clock });
      const { cookie } = await issuedCookie(a);

      await a.request(cookie, (s) => s.logout());
      expect((await a.request(cookie)).session.isNew).toBe(true);
      const onB = await b.request(cookie);
      expect(onB.session.isNew).toBe(false);
      expect(data(onB.session).cart).toEqual(['book']);
    });
  });

  describe('a session too large for a cookie', () => {
    const limit = maxSealedPlaintextBytes('sid');

    /** Fills `blob` so the sealed plaintext is exactly `bytes` long (clock fixed at T0, new session). */
    function fill(session: SessionHandle, bytes: number): string {
      const base = encodeSealedSession({ v: 1, i: session.id, c: T0, t: T0, d: { blob: '' } });
      const blob = 'x'.repeat(bytes - Buffer.byteLength(base));
      data(session).blob = blob;
      return blob;
    }

    it.each<[string, number]>([
      ['exactly at the limit', limit],
      ['one byte under the limit', limit - 1],
    ])('%s: sealed, and the cookie fits in 4096 bytes', async (_label, bytes) => {
      const { request } = createHarness();
      let blob = '';
      const { setCookie } = await request(undefined, (s) => {
        blob = fill(s, bytes);
      });
      const pair = cookieFrom(setCookie);
      expect(Buffer.byteLength(pair)).toBeLessThanOrEqual(MAX_COOKIE_BYTES);
      const next = await request(pair);
      expect(next.session.isNew).toBe(false);
      expect(data(next.session).blob).toBe(blob);
    });

    it.each<[string, number]>([
      ['one byte over the limit', limit + 1],
      ['10 KB', 10 * 1024],
    ])('%s: commit rejects with SESSION_TOO_LARGE naming the limit, and no cookie is set', async (_label, bytes) => {
      const { manager, store } = createHarness();
      const session = await manager.load({ cookieHeader: undefined, secure: false });
      fill(session, bytes);

      const error: unknown = await manager.commit(session).then(() => undefined, (thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(SessionError);
      expect((error as SessionError).code).toBe('SESSION_TOO_LARGE');
      expect((error as SessionError).message).toContain('4096');
      expect((error as SessionError).message).toContain(String(limit));
      expect(manager.setCookieHeader(session)).toBeUndefined();
      expect(store.calls).toEqual([]);
    });

    it('save() rejects the same way', async () => {
      const { manager } = createHarness();
      const session = await manager.load({ cookieHeader: undefined, secure: false });
      fill(session, limit + 1);

      const error: unknown = await session.save().then(() => undefined, (thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(SessionError);
      expect((error as SessionError).code).toBe('SESSION_TOO_LARGE');
      expect((error as SessionError).message).toContain('4096');
    });

    it('a loaded session that grows too large: commit rejects and its old cookie is left as it was', async () => {
      const harness = createHarness();
      const { cookie } = await issuedCookie(harness);
      const session = await harness.manager.load({ cookieHeader: cookie, secure: false });
      data(session).blob = 'x'.repeat(10 * 1024);

      await expect(harness.manager.commit(session)).rejects.toMatchObject({ code: 'SESSION_TOO_LARGE' });
      expect(harness.manager.setCookieHeader(session)).toBeUndefined();
      expect(data((await harness.request(cookie)).session).cart).toEqual(['book']);
    });
  });

  describe('discard() (what `req.session = null` does)', () => {
    it('a loaded session: the commit revokes it and the response expires the cookie', async () => {
      const harness = createHarness();
      const { id, cookie } = await issuedCookie(harness);
      harness.store.calls.length = 0;

      const { setCookie } = await harness.request(cookie, (s, manager) => manager.discard(s));
      shouldExpireCookie(setCookie);
      expect(harness.store.methods()).toEqual(['get', 'set']);
      await shouldBeRevoked(harness.memory, id, T0 + IDLE);
      expect((await harness.request(cookie)).session.isNew).toBe(true);
    });

    it('a loaded session whose data also changed: still expired, never re-sealed', async () => {
      const harness = createHarness();
      const { cookie } = await issuedCookie(harness);
      const { setCookie } = await harness.request(cookie, (s, manager) => {
        data(s).cart = ['pen'];
        manager.discard(s);
      });
      shouldExpireCookie(setCookie);
    });

    it('a new session with data (no cookie came in): no Set-Cookie, no store call', async () => {
      const { request, store } = createHarness();
      const { setCookie } = await request(undefined, (s, manager) => {
        data(s).cart = ['book'];
        manager.discard(s);
      });
      expect(setCookie).toBeUndefined();
      expect(store.calls).toEqual([]);
    });
  });

  describe('reload()', () => {
    it('drops unsaved changes back to what the cookie held', async () => {
      const harness = createHarness();
      const { cookie } = await issuedCookie(harness);

      const { session, setCookie } = await harness.request(cookie, async (s) => {
        data(s).cart = ['pen'];
        data(s).theme = 'dark';
        await s.reload();
      });
      expect({ ...data(session) }).toEqual({ cart: ['book'] });
      expect(setCookie).toBeUndefined();
    });

    it('after save(): goes back to what was saved in this request', async () => {
      const harness = createHarness();
      const { cookie } = await issuedCookie(harness);
      const { session } = await harness.request(cookie, async (s) => {
        data(s).cart = ['pen'];
        await s.save();
        data(s).cart = ['lamp'];
        await s.reload();
      });
      expect(data(session).cart).toEqual(['pen']);
    });

    it('a new session: rejects with SESSION_NOT_FOUND', async () => {
      const { manager } = createHarness();
      const session = await manager.load({ cookieHeader: undefined, secure: false });
      data(session).cart = ['book'];
      await expect(session.reload()).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    });
  });
});

// eslint-disable-next-line no-restricted-imports -- a test may run core against the real default store; core code itself still may not.
import { MemoryStore } from '../stores/memory.store';
import { SessionError } from './errors';
import { SessionManager } from './session-manager';
import { resolveSessionOptions } from './session-options';
import {
  internals,
  isDataKey,
  readSessionData,
  replaceSessionData,
  SessionHandle,
  type SessionCallback,
  type SessionInternals,
  type SessionRuntime,
} from './session';

const SECRET = 'test-only secret: 0123456789abcdef0123456789abcdef';
const T0 = 1_700_000_000_000;

type AsyncMethod = 'save' | 'regenerate' | 'destroy' | 'reload';

function newInternals(overrides: Partial<SessionInternals> = {}): SessionInternals {
  return {
    id: 'id',
    key: 'key',
    createdAt: T0,
    touchedAt: T0,
    isNew: false,
    persisted: undefined,
    destroyed: false,
    requestHadCookie: true,
    cookieStale: false,
    touchRequested: false,
    cookieMaxAge: undefined,
    cookieMaxAgeChanged: false,
    secureRequest: false,
    successor: undefined,
    failed: false,
    discarded: false,
    device: undefined,
    ownerId: undefined,
    pendingEvents: undefined,
    modeState: undefined,
    ...overrides,
  };
}

/** The value a fake runtime's `regenerate` resolves with (the replacement session). */
const REPLACEMENT = Symbol('replacement') as unknown as SessionHandle;

/** A runtime whose asynchronous operations succeed, or reject with `failure` when one is set. */
function fakeRuntime(failure?: unknown) {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a runtime may reject with anything
  const outcome = <T>(value: T) => () => (failure === undefined ? Promise.resolve(value) : Promise.reject(failure));
  const runtime = {
    save: jest.fn<Promise<void>, [SessionHandle]>(outcome(undefined)),
    regenerate: jest.fn<Promise<SessionHandle>, [SessionHandle]>(outcome(REPLACEMENT)),
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a runtime may reject with anything
    rotate: jest.fn<Promise<SessionHandle>, [SessionHandle]>((session) => (failure === undefined ? Promise.resolve(session) : Promise.reject(failure))),
    destroy: jest.fn<Promise<void>, [SessionHandle]>(outcome(undefined)),
    reload: jest.fn<Promise<void>, [SessionHandle]>(outcome(undefined)),
    touch: jest.fn<void, [SessionHandle]>(),
    cookieChanged: jest.fn<void, [SessionHandle]>(),
  } satisfies SessionRuntime;
  return runtime;
}

function newHandle(runtime: SessionRuntime, overrides: Partial<SessionInternals> = {}, maxAge?: number) {
  return new SessionHandle(runtime, newInternals(overrides), {
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    domain: undefined,
    secure: 'auto',
    maxAge,
  });
}

/** Calls a session method with a callback; resolves with what the callback received and the method's own outcome. */
async function callWithCallback(session: SessionHandle, method: AsyncMethod) {
  const received: unknown[][] = [];
  const callback: SessionCallback = (...args: unknown[]) => {
    received.push(args);
  };
  const returned: Promise<unknown> = session[method](callback);
  const outcome = await returned.then(
    (value) => ({ resolved: true as const, value }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  return { received, outcome };
}

const ASYNC_METHODS: AsyncMethod[] = ['save', 'regenerate', 'destroy', 'reload'];

describe('SessionHandle', () => {
  describe.each(ASYNC_METHODS)('%s()', (method) => {
    it('delegates to the runtime with the session', async () => {
      const runtime = fakeRuntime();
      const session = newHandle(runtime);
      await session[method]();
      expect(runtime[method]).toHaveBeenCalledTimes(1);
      // destroy() tells the runtime why, for the lifecycle event.
      if (method === 'destroy') expect(runtime[method]).toHaveBeenCalledWith(session, 'destroy');
      else expect(runtime[method]).toHaveBeenCalledWith(session);
    });

    it('returns a promise that rejects with the failure when no callback is given', async () => {
      const failure = new Error(`${method} failed`);
      const session = newHandle(fakeRuntime(failure));
      await expect(session[method]()).rejects.toBe(failure);
    });

    it('calls the callback once with no error on success, and resolves with the result', async () => {
      const session = newHandle(fakeRuntime());
      const { received, outcome } = await callWithCallback(session, method);
      expect(received).toEqual([[]]);
      expect(outcome).toEqual({ resolved: true, value: method === 'regenerate' ? REPLACEMENT : undefined });
    });

    it.each<[string, unknown]>([
      ['an Error', new Error('store down')],
      ['a SessionError', new SessionError('gone', 'SESSION_NOT_FOUND')],
      ['a non-Error value', 'connection reset'],
    ])('calls the callback once with %s on failure, and still resolves', async (_label, failure) => {
      const session = newHandle(fakeRuntime(failure));
      const { received, outcome } = await callWithCallback(session, method);
      expect(received).toHaveLength(1);
      expect(received[0][0]).toBe(failure);
      expect(outcome).toEqual({ resolved: true, value: undefined });
    });

    it('calls the callback only after the operation finished', async () => {
      let finish!: () => void;
      const runtime = fakeRuntime();
      (runtime[method] as jest.Mock).mockImplementation(() => new Promise<void>((resolve) => (finish = resolve)));
      const callback = jest.fn();
      const returned = newHandle(runtime)[method](callback);
      await Promise.resolve();
      expect(callback).not.toHaveBeenCalled();
      finish();
      await returned;
      expect(callback).toHaveBeenCalledTimes(1);
    });
  });

  describe('a handle replaced through regenerate()', () => {
    it.each<[string, (session: SessionHandle) => Promise<unknown>, keyof ReturnType<typeof fakeRuntime>, unknown[]]>([
      ['save', (session) => session.save(), 'save', []],
      ['destroy', (session) => session.destroy(), 'destroy', ['destroy']],
      ['reload', (session) => session.reload(), 'reload', []],
      ['regenerate', (session) => session.regenerate(), 'regenerate', []],
      ['touch', (session) => session.touch(), 'touch', []],
      ['logout', (session) => session.logout(), 'destroy', ['logout']],
      // login() passes the user id on as a string, for the `rotated` event.
      ['login', (session) => session.login({ id: 1 }), 'rotate', ['1']],
    ])('%s() acts on the latest successor in the chain', async (_label, call, method, extra) => {
      const runtime = fakeRuntime();
      const latest = newHandle(runtime, { id: 'latest' });
      const middle = newHandle(runtime, { id: 'middle', successor: latest });
      const oldest = newHandle(runtime, { id: 'oldest', successor: middle });
      await call(oldest);
      expect(runtime[method]).toHaveBeenCalledTimes(1);
      expect(runtime[method]).toHaveBeenCalledWith(latest, ...extra);
    });
  });

  describe('touch()', () => {
    it.each([
      ['without a callback', false],
      ['with a callback', true],
    ])('marks the session touched %s', async (_label, withCallback) => {
      const runtime = fakeRuntime();
      const session = newHandle(runtime);
      const callback = jest.fn();
      await (withCallback ? session.touch(callback) : session.touch());
      expect(runtime.touch).toHaveBeenCalledWith(session);
      expect(callback).toHaveBeenCalledTimes(withCallback ? 1 : 0);
      if (withCallback) expect(callback).toHaveBeenCalledWith();
    });
  });

  describe('logout()', () => {
    it('destroys through the runtime and propagates its failure', async () => {
      const failure = new Error('down');
      const ok = fakeRuntime();
      await newHandle(ok).logout();
      expect(ok.destroy).toHaveBeenCalledTimes(1);
      await expect(newHandle(fakeRuntime(failure)).logout()).rejects.toBe(failure);
    });
  });

  describe('login() input validation', () => {
    it.each<[string, unknown]>([
      ['null', null],
      ['undefined', undefined],
      ['a string', 'alice'],
      ['an object without id', { name: 'alice' }],
      ['an object with a null id', { id: null }],
    ])('rejects %s with a TypeError and does not rotate the session', async (_label, user) => {
      const runtime = fakeRuntime();
      const session = newHandle(runtime);
      await expect(session.login(user as never)).rejects.toThrow(TypeError);
      expect(runtime.rotate).not.toHaveBeenCalled();
      expect(runtime.regenerate).not.toHaveBeenCalled();
    });

    it('propagates a failed rotation and leaves the data as it was', async () => {
      const failure = new Error('store down');
      const session = newHandle(fakeRuntime(failure));
      (session as unknown as Record<string, unknown>).cart = ['book'];
      await expect(session.login({ id: 1 })).rejects.toBe(failure);
      expect(readSessionData(session)).toEqual({ cart: ['book'] });
    });
  });

  describe('a handle not made by the manager', () => {
    it.each<[string, (session: SessionHandle) => unknown]>([
      ['reading id', (session) => session.id],
      ['reading isNew', (session) => session.isNew],
      ['calling save', (session) => session.save()],
      ['internals()', (session) => internals(session)],
    ])('throws SESSION_NOT_LOADED on %s', (_label, use) => {
      const impostor = Object.create(SessionHandle.prototype) as SessionHandle;
      expect(() => use(impostor)).toThrow(expect.objectContaining({ code: 'SESSION_NOT_LOADED' }));
    });
  });
});

describe('SessionCookie', () => {
  describe('maxAge', () => {
    it.each<[string, number | undefined, number | undefined]>([
      ['the configured default', 60_000, 60_000],
      ['undefined without a default (browser-session cookie)', undefined, undefined],
    ])('starts as %s', (_label, configured, expected) => {
      expect(newHandle(fakeRuntime(), {}, configured).cookie.maxAge).toBe(expected);
    });

    it('prefers the per-session value kept in the internals', () => {
      expect(newHandle(fakeRuntime(), { cookieMaxAge: 5_000 }, 60_000).cookie.maxAge).toBe(5_000);
    });

    it.each([1, 1_000, 86_400_000, 1.5])('accepts %p ms, records it and reports the change', (value) => {
      const runtime = fakeRuntime();
      const state = newInternals();
      const session = new SessionHandle(runtime, state, { httpOnly: true, sameSite: 'lax', path: '/', domain: undefined, maxAge: undefined, secure: 'auto' });
      session.cookie.maxAge = value;
      expect(session.cookie.maxAge).toBe(value);
      expect(state.cookieMaxAge).toBe(value);
      expect(state.cookieMaxAgeChanged).toBe(true);
      expect(runtime.cookieChanged).toHaveBeenCalledWith(session);
    });

    it('accepts undefined, falling back to the configured default', () => {
      const runtime = fakeRuntime();
      const session = newHandle(runtime, { cookieMaxAge: 5_000 }, 60_000);
      session.cookie.maxAge = undefined;
      expect(session.cookie.maxAge).toBe(60_000);
      expect(runtime.cookieChanged).toHaveBeenCalledTimes(1);
    });

    it.each<[string, unknown]>([
      ['zero', 0],
      ['a negative number', -1_000],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['a numeric string', '60000'],
      ['null', null],
    ])('refuses %s with a RangeError and changes nothing', (_label, value) => {
      const runtime = fakeRuntime();
      const state = newInternals();
      const session = new SessionHandle(runtime, state, { httpOnly: true, sameSite: 'lax', path: '/', domain: undefined, maxAge: 60_000, secure: 'auto' });
      expect(() => {
        session.cookie.maxAge = value as number;
      }).toThrow(RangeError);
      expect(session.cookie.maxAge).toBe(60_000);
      expect(state.cookieMaxAgeChanged).toBe(false);
      expect(runtime.cookieChanged).not.toHaveBeenCalled();
    });
  });

  it('serializes its settings with toJSON', () => {
    const session = new SessionHandle(fakeRuntime(), newInternals(), {
      httpOnly: true,
      sameSite: 'strict',
      path: '/app',
      domain: 'example.com',
      secure: true,
      maxAge: 1_000,
    });
    expect(JSON.parse(JSON.stringify(session.cookie))).toEqual({
      httpOnly: true,
      sameSite: 'strict',
      path: '/app',
      domain: 'example.com',
      maxAge: 1_000,
    });
  });
});

describe('session data', () => {
  it.each<[string, boolean]>([
    ['cart', true],
    ['user', true],
    ['returnTo', true],
    ['__proto__', false],
    ['prototype', false],
    ['constructor', false],
    ['id', false],
    ['cookie', false],
    ['isNew', false],
    ['save', false],
    ['regenerate', false],
    ['destroy', false],
    ['reload', false],
    ['touch', false],
    ['login', false],
    ['logout', false],
  ])('isDataKey(%j) is %s', (key, expected) => {
    expect(isDataKey(key)).toBe(expected);
  });

  it('reads own enumerable properties as data', () => {
    const session = newHandle(fakeRuntime());
    Object.assign(session, { cart: ['a'], count: 2 });
    expect(readSessionData(session)).toEqual({ cart: ['a'], count: 2 });
  });

  it('replaces data, dropping old keys and skipping reserved and prototype-reaching keys', () => {
    const session = newHandle(fakeRuntime());
    Object.assign(session, { stale: true });
    const hostile = JSON.parse('{"__proto__":{"polluted":true},"constructor":"x","save":"x","id":"forged","cart":[1]}') as Record<string, unknown>;
    replaceSessionData(session, hostile);
    expect(readSessionData(session)).toEqual({ cart: [1] });
    expect(Object.getPrototypeOf(session)).toBe(SessionHandle.prototype);
    expect((session as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect(session.id).toBe('id');
    expect(typeof session.save).toBe('function');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('SessionHandle with the session manager', () => {
  function setup() {
    const now = T0;
    const store = new MemoryStore({ clock: () => now });
    const manager = new SessionManager(resolveSessionOptions({ secret: SECRET }), { store, clock: () => now });
    return { manager, store };
  }

  async function storedSession() {
    const { manager, store } = setup();
    const first = await manager.load({ cookieHeader: undefined, secure: false });
    (first as unknown as Record<string, unknown>).cart = ['book'];
    await manager.commit(first);
    const cookie = manager.setCookieHeader(first)!.split(';')[0];
    const session = await manager.load({ cookieHeader: cookie, secure: false });
    return { manager, store, session };
  }

  it.each<[string, (session: SessionHandle) => Promise<void>]>([
    ['destroyed', (session) => session.destroy()],
    ['logged out', (session) => session.logout()],
  ])('reload() on a %s session rejects with SESSION_NOT_FOUND', async (_label, end) => {
    const { session } = await storedSession();
    await end(session);
    const rejection = session.reload();
    await expect(rejection).rejects.toBeInstanceOf(SessionError);
    await expect(rejection).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it('reload() with a callback on a destroyed session passes SESSION_NOT_FOUND to it and resolves', async () => {
    const { session } = await storedSession();
    await session.destroy();
    const { received, outcome } = await callWithCallback(session, 'reload');
    expect(received).toHaveLength(1);
    expect(received[0][0]).toMatchObject({ code: 'SESSION_NOT_FOUND' });
    expect(outcome.resolved).toBe(true);
  });

  it('reload() on a session that was never stored rejects with SESSION_NOT_FOUND', async () => {
    const { manager } = setup();
    const session = await manager.load({ cookieHeader: undefined, secure: false });
    await expect(session.reload()).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it('reload() on a live session drops unsaved changes', async () => {
    const { session } = await storedSession();
    const data = session as unknown as Record<string, unknown>;
    data.cart = ['changed'];
    data.extra = 1;
    await session.reload();
    expect(readSessionData(session)).toEqual({ cart: ['book'] });
  });
});

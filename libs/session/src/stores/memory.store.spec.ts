import { SessionConfigError } from '../core/errors';
import type { SessionRecord } from '../core/session-store';
import type * as MemoryStoreModule from './memory.store';
import { MEMORY_STORE_PRODUCTION_WARNING, MemoryStore } from './memory.store';

// MemoryStore-specific behaviour only. The SessionStore contract every store honours is checked by
// the shared suite in test/stores/.

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

class TestClock {
  now = T0;
  readonly read = (): number => this.now;
}

function record(expiresIn: number, data: Record<string, unknown> = {}, clock?: TestClock): SessionRecord {
  const now = clock?.now ?? T0;
  return { data, createdAt: now, touchedAt: now, expiresAt: now + expiresIn };
}

async function keysPresent(store: MemoryStore, keys: readonly string[]): Promise<string[]> {
  const present: string[] = [];
  for (const key of keys) if ((await store.get(key)) !== undefined) present.push(key);
  return present;
}

describe('MemoryStore', () => {
  describe('constructor', () => {
    it.each<[string, unknown]>([
      ['zero', 0],
      ['a negative number', -5],
      ['a fraction', 1.5],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['a numeric string', '10'],
    ])('refuses maxSessions %s with a RangeError', (_label, maxSessions) => {
      expect(() => new MemoryStore({ maxSessions: maxSessions as number })).toThrow(SessionConfigError);
      expect(() => new MemoryStore({ maxSessions: maxSessions as number })).toThrow(
        `MemoryStore maxSessions must be a positive integer (got ${String(maxSessions)})`,
      );
    });

    it.each<[string, number | undefined]>([
      ['one', 1],
      ['a large bound', 1_000_000],
      ['the default', undefined],
    ])('accepts maxSessions %s', (_label, maxSessions) => {
      const store = new MemoryStore(maxSessions === undefined ? {} : { maxSessions });
      expect(store.size).toBe(0);
    });
  });

  describe('the production warning', () => {
    const originalEnv = process.env.NODE_ENV;

    afterEach(() => {
      if (originalEnv === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = originalEnv;
      jest.restoreAllMocks();
    });

    /** A fresh copy of the module, so its once-per-process flag starts unset. */
    function freshModule(): typeof MemoryStoreModule {
      let loaded: typeof MemoryStoreModule | undefined;
      jest.isolateModules(() => {
        loaded = jest.requireActual<typeof MemoryStoreModule>('./memory.store');
      });
      if (!loaded) throw new Error('memory.store did not load');
      return loaded;
    }

    it('is printed once through `warn` when NODE_ENV=production, however many stores are created', () => {
      process.env.NODE_ENV = 'production';
      const { MemoryStore: FreshStore, MEMORY_STORE_PRODUCTION_WARNING: message } = freshModule();
      const first = jest.fn();
      const second = jest.fn();
      new FreshStore({ warn: first });
      new FreshStore({ warn: first });
      new FreshStore({ warn: second });
      expect(first).toHaveBeenCalledTimes(1);
      expect(first).toHaveBeenCalledWith(message);
      expect(second).not.toHaveBeenCalled();
      expect(message).toBe(MEMORY_STORE_PRODUCTION_WARNING);
      expect(message).toMatch(/development and tests/);
    });

    it('goes to console.warn when no `warn` is given', () => {
      process.env.NODE_ENV = 'production';
      const { MemoryStore: FreshStore } = freshModule();
      const consoleWarn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      new FreshStore();
      expect(consoleWarn).toHaveBeenCalledTimes(1);
      expect(consoleWarn).toHaveBeenCalledWith(MEMORY_STORE_PRODUCTION_WARNING);
    });

    it.each<[string, string | undefined]>([
      ['test', 'test'],
      ['development', 'development'],
      ['unset', undefined],
      ['"Production" (case differs)', 'Production'],
    ])('is not printed when NODE_ENV is %s', (_label, env) => {
      if (env === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = env;
      const { MemoryStore: FreshStore } = freshModule();
      const warn = jest.fn();
      new FreshStore({ warn });
      expect(warn).not.toHaveBeenCalled();
    });

    it('is still printed for the first store created in production after non-production ones', () => {
      process.env.NODE_ENV = 'test';
      const { MemoryStore: FreshStore } = freshModule();
      const warn = jest.fn();
      new FreshStore({ warn });
      expect(warn).not.toHaveBeenCalled();
      process.env.NODE_ENV = 'production';
      new FreshStore({ warn });
      expect(warn).toHaveBeenCalledTimes(1);
    });
  });

  describe('maxSessions bound', () => {
    it('drops expired sessions first, even when they are not the oldest', async () => {
      const clock = new TestClock();
      const store = new MemoryStore({ maxSessions: 2, clock: clock.read });
      await store.set('long-lived', record(HOUR));
      await store.set('short-lived', record(1_000));
      clock.now = T0 + 2_000; // short-lived is expired, and a sweep is allowed again
      await store.set('new', record(HOUR, {}, clock));
      expect(store.size).toBe(2);
      expect(await keysPresent(store, ['long-lived', 'short-lived', 'new'])).toEqual(['long-lived', 'new']);
    });

    it('drops every expired session in one sweep', async () => {
      const clock = new TestClock();
      const store = new MemoryStore({ maxSessions: 4, clock: clock.read });
      await store.set('live', record(HOUR));
      for (const key of ['dead-1', 'dead-2', 'dead-3']) await store.set(key, record(500));
      clock.now = T0 + 1_000;
      await store.set('new', record(HOUR, {}, clock));
      expect(store.size).toBe(2);
      expect(await keysPresent(store, ['live', 'new'])).toEqual(['live', 'new']);
    });

    it.each<[string, (store: MemoryStore) => Promise<unknown>, string[]]>([
      ['nothing else happens: the first written goes', async () => undefined, ['b', 'c']],
      ['the first one is written again: the second goes', (store) => store.set('a', record(HOUR, { again: true })), ['a', 'c']],
      ['the first one is only read: it still goes', (store) => store.get('a'), ['b', 'c']],
    ])('with no expired session, evicts the least recently written when %s', async (_label, between, survivors) => {
      const clock = new TestClock();
      const store = new MemoryStore({ maxSessions: 2, clock: clock.read });
      await store.set('a', record(HOUR));
      await store.set('b', record(HOUR));
      await between(store);
      await store.set('c', record(HOUR));
      expect(store.size).toBe(2);
      expect(await keysPresent(store, ['a', 'b', 'c'])).toEqual(survivors);
    });

    it('never exceeds the bound under a flood of new sessions', async () => {
      const clock = new TestClock();
      const store = new MemoryStore({ maxSessions: 10, clock: clock.read });
      for (let index = 0; index < 1_000; index++) {
        clock.now = T0 + index * 10;
        await store.set(`flood-${index}`, record(HOUR, {}, clock));
        expect(store.size).toBeLessThanOrEqual(10);
      }
      expect(await keysPresent(store, Array.from({ length: 1_000 }, (_, index) => `flood-${index}`))).toEqual(
        Array.from({ length: 10 }, (_, index) => `flood-${990 + index}`),
      );
    });

    it.each<[string, (store: MemoryStore) => Promise<unknown>]>([
      ['replacing an existing session', (store) => store.set('a', record(HOUR, { changed: true }))],
      ['touching an existing session', (store) => store.touch('a', record(2 * HOUR))],
    ])('evicts nothing when %s at the bound', async (_label, operation) => {
      const store = new MemoryStore({ maxSessions: 2, clock: () => T0 });
      await store.set('a', record(HOUR));
      await store.set('b', record(HOUR));
      await operation(store);
      expect(await keysPresent(store, ['a', 'b'])).toEqual(['a', 'b']);
    });

    it('rewriting an expired key at the bound takes its own place, evicting nothing', async () => {
      const clock = new TestClock();
      const store = new MemoryStore({ maxSessions: 2, clock: clock.read });
      await store.set('b', record(HOUR));
      await store.set('a', record(100));
      clock.now = T0 + 200;
      await store.set('a', record(HOUR, {}, clock));
      expect(await keysPresent(store, ['a', 'b'])).toEqual(['a', 'b']);
    });
  });

  describe('size', () => {
    it('counts expired sessions until something drops them', async () => {
      const clock = new TestClock();
      const store = new MemoryStore({ clock: clock.read });
      await store.set('a', record(1_000));
      await store.set('b', record(HOUR));
      clock.now = T0 + 1_000; // exactly at a's expiresAt: expired
      expect(store.size).toBe(2);
      expect(await store.get('a')).toBeUndefined();
      expect(store.size).toBe(1);
    });

    it('is zero after clear()', async () => {
      const store = new MemoryStore({ clock: () => T0 });
      await store.set('a', record(HOUR));
      await store.set('b', record(HOUR));
      await store.clear();
      expect(store.size).toBe(0);
      expect(await store.get('a')).toBeUndefined();
    });

    it('keeps its sessions on close(): the module closes every store on shutdown, and a store shared by two apps must survive one of them', async () => {
      const store = new MemoryStore({ clock: () => T0 });
      await store.set('a', record(HOUR));
      await store.close();
      expect(store.size).toBe(1);
      expect(await store.get('a')).toBeDefined();
    });
  });

  describe('data is kept as JSON text', () => {
    it('mutating the object after set() does not change what is stored', async () => {
      const store = new MemoryStore({ clock: () => T0 });
      const data = { cart: ['book'], nested: { count: 1 } };
      await store.set('a', record(HOUR, data));
      data.cart.push('pen');
      data.nested.count = 2;
      expect((await store.get('a'))?.data).toEqual({ cart: ['book'], nested: { count: 1 } });
    });

    it('each get() returns a fresh copy', async () => {
      const store = new MemoryStore({ clock: () => T0 });
      await store.set('a', record(HOUR, { cart: ['book'] }));
      const first = await store.get('a');
      (first!.data.cart as string[]).push('pen');
      const second = await store.get('a');
      expect(second?.data).toEqual({ cart: ['book'] });
      expect(second?.data).not.toBe(first?.data);
    });

    it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
      ['undefined values are dropped', { a: undefined, b: 1 }, { b: 1 }],
      ['dates become ISO strings', { at: new Date(T0) }, { at: new Date(T0).toISOString() }],
      ['an own __proto__ key stays a plain key', JSON.parse('{"__proto__":{"polluted":true}}') as Record<string, unknown>, JSON.parse('{"__proto__":{"polluted":true}}') as Record<string, unknown>],
    ])('round-trips through JSON: %s', async (_label, input, expected) => {
      const store = new MemoryStore({ clock: () => T0 });
      await store.set('a', record(HOUR, input));
      const stored = await store.get('a');
      expect(stored?.data).toEqual(expected);
      expect(Object.getPrototypeOf(stored!.data)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });
});

// eslint-disable-next-line no-restricted-imports -- a test may run core against the real default store; core code itself still may not.
import { MemoryStore } from '../stores/memory.store';
import { addFlash, FLASH_KEY, readFlash } from './flash';
import { SessionManager } from './session-manager';
import { resolveSessionOptions } from './session-options';
import type { SessionHandle } from './session';

const SECRET = 'test-only secret: 0123456789abcdef0123456789abcdef';

describe('readFlash / addFlash', () => {
  it('keeps string messages by type and drops anything else', () => {
    expect(readFlash({ info: ['a', 2, 'b'], error: 'not a list', empty: [] })).toEqual({ info: ['a', 'b'] });
    expect(readFlash(null)).toEqual({});
    expect(readFlash(['info'])).toEqual({});
    expect(readFlash('x')).toEqual({});
  });

  it('keeps a type named __proto__ as a plain key', () => {
    const messages = addFlash({}, '__proto__', 'hi');
    expect(Object.getPrototypeOf(messages)).toBe(Object.prototype);
    expect(Object.hasOwn(messages, '__proto__')).toBe(true);
    expect(readFlash(JSON.parse(JSON.stringify(messages)))).toEqual(messages);
  });

  it('adds without changing its input', () => {
    const before = { info: ['a'] };
    expect(addFlash(before, 'info', 'b')).toEqual({ info: ['a', 'b'] });
    expect(before).toEqual({ info: ['a'] });
  });
});

describe.each(['server', 'cookie'] as const)('session.flash() and consumeFlash() (%s mode)', (mode) => {
  function setUp() {
    const manager = new SessionManager(resolveSessionOptions({ secret: SECRET, mode }), { store: new MemoryStore() });
    let cookie: string | undefined;
    /** One request: loads with the last cookie, runs `handle`, commits, keeps the new cookie. */
    async function request<T>(handle: (session: SessionHandle) => T | Promise<T>): Promise<T> {
      const session = await manager.load({ cookieHeader: cookie === undefined ? undefined : `sid=${cookie}`, secure: false });
      const result = await handle(session);
      await manager.commit(session);
      const header = manager.setCookieHeader(session);
      if (header !== undefined) cookie = decodeURIComponent(header.split(';', 1)[0].slice('sid='.length));
      return result;
    }
    return { request };
  }

  it('shows a message once, on the next request (the page after a redirect)', async () => {
    const { request } = setUp();
    await request((session) => session.flash('info', 'Signed in'));
    await expect(request((session) => session.consumeFlash())).resolves.toEqual({ info: ['Signed in'] });
    await expect(request((session) => session.consumeFlash())).resolves.toEqual({});
  });

  it('keeps messages in order by type, and reads one type without the others', async () => {
    const { request } = setUp();
    await request((session) => {
      session.flash('info', 'one');
      session.flash('error', 'bad');
      session.flash('info', 'two');
    });
    await expect(request((session) => session.consumeFlash('info'))).resolves.toEqual(['one', 'two']);
    await expect(request((session) => session.consumeFlash('info'))).resolves.toEqual([]);
    await expect(request((session) => session.consumeFlash())).resolves.toEqual({ error: ['bad'] });
  });

  it('a message set after login() survives; one set before is dropped unless kept', async () => {
    const { request } = setUp();
    await request(async (session) => {
      session.flash('info', 'before');
      await session.login({ id: 'alice' });
      session.flash('info', 'after');
    });
    await expect(request((session) => session.consumeFlash('info'))).resolves.toEqual(['after']);

    await request(async (session) => {
      session.flash('info', 'kept');
      await session.login({ id: 'alice' }, { keep: [FLASH_KEY] });
    });
    await expect(request((session) => session.consumeFlash('info'))).resolves.toEqual(['kept']);
  });

  it('refuses a type or message that is not a string', async () => {
    const { request } = setUp();
    await request((session) => {
      expect(() => session.flash('', 'x')).toThrow(TypeError);
      expect(() => session.flash('info', 42 as unknown as string)).toThrow(TypeError);
    });
  });

  it('throws on a session that was logged out, rather than losing the message', async () => {
    const { request } = setUp();
    await request(async (session) => {
      await session.login({ id: 'alice' });
    });
    await request(async (session) => {
      await session.logout();
      expect(() => session.flash('info', 'Signed out')).toThrow(TypeError);
      const next = await session.regenerate();
      next.flash('info', 'Signed out');
    });
    await expect(request((session) => session.consumeFlash('info'))).resolves.toEqual(['Signed out']);
  });
});

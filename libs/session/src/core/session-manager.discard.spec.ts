// eslint-disable-next-line no-restricted-imports -- the reference store, used as a plain in-memory fake
import { MemoryStore } from '../stores/memory.store';
import { signSessionId } from './cookie-signer';
import { KeyRing } from './key-ring';
import { SessionManager, type DiscardedCookieReason } from './session-manager';
import { resolveSessionOptions } from './session-options';

const SECRET = 'test-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const OTHER_SECRET = 'test-only-other-secret-0123456789-abcdefghijklmnop';

function setUp() {
  const reasons: DiscardedCookieReason[] = [];
  const store = new MemoryStore();
  const manager = new SessionManager(resolveSessionOptions({ secret: SECRET }), {
    store,
    onDiscardedCookie: (reason) => reasons.push(reason),
  });
  return { manager, reasons };
}

async function storedCookie(manager: SessionManager): Promise<string> {
  const session = await manager.load({ cookieHeader: undefined, secure: false });
  (session as unknown as Record<string, unknown>).visits = 1;
  await manager.commit(session);
  return manager.setCookieHeader(session)!.split(';')[0];
}

describe('SessionManager reports why a client cookie was discarded (for debug logs)', () => {
  it.each<[string, (manager: SessionManager) => Promise<string>, DiscardedCookieReason]>([
    ['a garbage value', () => Promise.resolve('sid=garbage'), 'invalid-signature'],
    ['a value signed with another secret', () => Promise.resolve(`sid=${signSessionId('a'.repeat(43), KeyRing.fromSecrets([OTHER_SECRET]))}`), 'invalid-signature'],
    ['a validly signed id the store does not know', () => Promise.resolve(`sid=${signSessionId('b'.repeat(43), KeyRing.fromSecrets([SECRET]))}`), 'unknown-or-expired'],
    [
      'two different valid session cookies',
      async (manager) => `${await storedCookie(manager)}; ${await storedCookie(manager)}`,
      'ambiguous-duplicates',
    ],
  ])('%s: %s', async (_label, cookie, reason) => {
    const { manager, reasons } = setUp();
    const header = await cookie(manager);
    const session = await manager.load({ cookieHeader: header, secure: false });
    expect(session.isNew).toBe(true);
    expect(reasons).toEqual([reason]);
  });

  it('reports nothing for a request without a cookie, or with a cookie that loads', async () => {
    const { manager, reasons } = setUp();
    const cookie = await storedCookie(manager);
    await manager.load({ cookieHeader: undefined, secure: false });
    const loaded = await manager.load({ cookieHeader: cookie, secure: false });
    expect(loaded.isNew).toBe(false);
    expect(reasons).toEqual([]);
  });
});

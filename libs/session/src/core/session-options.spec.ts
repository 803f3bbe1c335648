import { SessionConfigError } from './errors';
import { resolveSessionOptions, type SessionOptions, type SessionOptionsExtension } from './session-options';

// The engine's options on their own. Everything SessionModule accepts (these and the module's
// guard, csrf and loginPath) is tested through the module's resolver in
// nest/session-module-options.spec.ts.

const SECRET = 'test-only secret: 0123456789abcdef0123456789abcdef';
const ENGINE_KEYS = 'secret, name, cookie, trustProxy, idleTimeout, absoluteTimeout, rolling, saveUninitialized, mode, store, revocationStore, maxSessionsPerUser';

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SessionConfigError);
    return (error as SessionConfigError).problems;
  }
  throw new Error('expected a SessionConfigError');
}

describe('resolveSessionOptions (the engine alone)', () => {
  it('knows no Nest setting: guard, csrf and loginPath are unknown options here', () => {
    expect(problemsOf(() => resolveSessionOptions({ secret: SECRET, guard: 'global' } as unknown as SessionOptions))).toEqual([
      `guard: unknown option (known: ${ENGINE_KEYS})`,
    ]);
  });

  it('resolves without any module setting in the result', () => {
    const resolved = resolveSessionOptions({ secret: SECRET });
    expect(resolved).not.toHaveProperty('guard');
    expect(resolved).not.toHaveProperty('csrf');
    expect(resolved).not.toHaveProperty('loginPath');
  });

  describe('with an extension (what the Nest module adds)', () => {
    const extension: SessionOptionsExtension<{ flavour: string }> = {
      keys: ['flavour'],
      resolve(input, problems) {
        const flavour = input.flavour ?? 'plain';
        if (typeof flavour === 'string') return { flavour };
        problems.push('flavour: must be a string');
        return { flavour: 'plain' };
      },
    };

    it('accepts its keys, lists them as known, and merges what it resolves', () => {
      expect(resolveSessionOptions({ secret: SECRET, flavour: 'salted' }, extension)).toMatchObject({ name: 'sid', flavour: 'salted' });
      expect(problemsOf(() => resolveSessionOptions({ secret: SECRET, flavor: 'typo' }, extension))).toEqual([
        `flavor: unknown option (known: ${ENGINE_KEYS}, flavour)`,
      ]);
    });

    it("reports its problems after the engine's, in one SessionConfigError", () => {
      expect(problemsOf(() => resolveSessionOptions({ secret: 'short', flavour: 42 }, extension))).toEqual([
        'secret: must be at least 32 bytes (got 5)',
        'flavour: must be a string',
      ]);
    });
  });
});

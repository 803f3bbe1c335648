import { SessionConfigError } from '../core/errors';
import { SESSION_DEFAULTS } from '../core/session-options';
import type { SessionStore } from '../core/session-store';
import { resolveSessionModuleOptions, SESSION_MODULE_DEFAULTS, type SessionModuleInput } from './session-module-options';

// What SessionModule.forRoot() resolves: the engine's options (core/session-options.ts) and the
// module's own settings (guard, csrf, loginPath), in one pass and one SessionConfigError.
const resolveSessionOptions = resolveSessionModuleOptions;
type SessionOptions = SessionModuleInput;

const SECRET = 'test-only secret: 0123456789abcdef0123456789abcdef';
const OTHER_SECRET = 'test-only other secret: fedcba9876543210fedcba98765';

const validStore: SessionStore = {
  get: () => Promise.resolve(undefined),
  set: () => Promise.resolve(),
  update: () => Promise.resolve(true),
  destroy: () => Promise.resolve(),
  touch: () => Promise.resolve(),
};

/** Runs the resolver on input that may be invalid (as plain JavaScript callers could pass). */
function resolve(input: unknown) {
  return resolveSessionOptions(input as SessionOptions);
}

/** The problems listed by the one SessionConfigError the resolver throws. */
function problemsOf(input: unknown): readonly string[] {
  try {
    resolve(input);
  } catch (error) {
    expect(error).toBeInstanceOf(SessionConfigError);
    const configError = error as SessionConfigError;
    expect(configError.code).toBe('SESSION_CONFIG_INVALID');
    return configError.problems;
  }
  throw new Error('expected resolveSessionOptions to throw a SessionConfigError');
}

describe('resolveSessionOptions', () => {
  describe('defaults', () => {
    it('fills every option from SESSION_DEFAULTS with only a secret given', () => {
      expect(resolveSessionOptions({ secret: SECRET })).toEqual({
        secrets: [SECRET],
        name: 'sid',
        cookie: { httpOnly: true, sameSite: 'lax', path: '/', secure: 'auto', domain: undefined, maxAge: undefined },
        trustProxy: false,
        idleTimeout: 30 * 60_000,
        absoluteTimeout: 12 * 60 * 60_000,
        rolling: false,
        saveUninitialized: false,
        mode: 'server',
        store: undefined,
        revocationStore: undefined,
        guard: 'none',
        loginPath: '/login',
        csrf: false,
        sockets: { allowedOrigins: [], broadcast: undefined, recheckInterval: 60_000 },
      });
    });

    it('uses the exported defaults', () => {
      const resolved = resolveSessionOptions({ secret: SECRET });
      expect(resolved.guard).toBe(SESSION_MODULE_DEFAULTS.guard);
      expect(resolved.loginPath).toBe(SESSION_MODULE_DEFAULTS.loginPath);
      expect(resolved.name).toBe(SESSION_DEFAULTS.name);
      expect(resolved.idleTimeout).toBe(SESSION_DEFAULTS.idleTimeout);
      expect(resolved.absoluteTimeout).toBe(SESSION_DEFAULTS.absoluteTimeout);
      expect(resolved.cookie.secure).toBe(SESSION_DEFAULTS.secure);
    });

    it('keeps every valid option as given', () => {
      const resolved = resolveSessionOptions({
        secret: [SECRET, OTHER_SECRET],
        name: '__Host-sid',
        cookie: { httpOnly: false, sameSite: 'none', path: '/', secure: true, maxAge: 86_400_000 },
        trustProxy: true,
        idleTimeout: 60_000,
        absoluteTimeout: 3_600_000,
        rolling: true,
        saveUninitialized: true,
        store: validStore,
        guard: 'global',
        loginPath: '/auth/sign-in',
      });
      expect(resolved).toEqual({
        secrets: [SECRET, OTHER_SECRET],
        name: '__Host-sid',
        cookie: { httpOnly: false, sameSite: 'none', path: '/', secure: true, domain: undefined, maxAge: 86_400_000 },
        trustProxy: true,
        idleTimeout: 60_000,
        absoluteTimeout: 3_600_000,
        rolling: true,
        saveUninitialized: true,
        mode: 'server',
        store: validStore,
        revocationStore: undefined,
        guard: 'global',
        loginPath: '/auth/sign-in',
        csrf: false,
        sockets: { allowedOrigins: [], broadcast: undefined, recheckInterval: 60_000 },
      });
    });

    it.each<[string, unknown, unknown]>([
      ['csrf omitted', undefined, false],
      ['csrf: false', false, false],
      ['csrf: true', true, { allowedOrigins: [] }],
      ['csrf with allowed origins', { allowedOrigins: ['https://admin.example.com', 'http://localhost:4200'] }, { allowedOrigins: ['https://admin.example.com', 'http://localhost:4200'] }],
    ])('resolves %s', (_label, csrf, expected) => {
      expect(resolveSessionOptions({ secret: SECRET, csrf: csrf as never }).csrf).toEqual(expected);
    });

    it.each<[string, unknown, string]>([
      ['a string', 'yes', 'csrf: must be true, false or { allowedOrigins: string[] }'],
      ['allowedOrigins not an array', { allowedOrigins: 'https://a.example' }, 'csrf.allowedOrigins: must be an array of origins such as "https://app.example.com"'],
      ['an origin with a path', { allowedOrigins: ['https://a.example/app'] }, 'csrf.allowedOrigins: "https://a.example/app" is not an origin (scheme://host[:port], no path or trailing slash)'],
      ['an origin with a trailing slash', { allowedOrigins: ['https://a.example/'] }, 'csrf.allowedOrigins: "https://a.example/" is not an origin (scheme://host[:port], no path or trailing slash)'],
      ['a bare host', { allowedOrigins: ['a.example'] }, 'csrf.allowedOrigins: "a.example" is not an origin (scheme://host[:port], no path or trailing slash)'],
    ])('refuses csrf as %s', (_label, csrf, problem) => {
      expect(() => resolveSessionOptions({ secret: SECRET, csrf: csrf as never })).toThrow(expect.objectContaining({ problems: [problem] }));
    });

    it('resolves sockets: origins default to csrf.allowedOrigins, a broadcast and an interval are kept', () => {
      const broadcast = { publish: () => Promise.resolve(), subscribe: () => Promise.resolve(() => Promise.resolve()) };
      expect(resolveSessionOptions({ secret: SECRET, csrf: { allowedOrigins: ['https://a.example'] } }).sockets).toEqual({
        allowedOrigins: ['https://a.example'],
        broadcast: undefined,
        recheckInterval: 60_000,
      });
      expect(
        resolveSessionOptions({ secret: SECRET, csrf: true, sockets: { allowedOrigins: ['https://b.example'], broadcast, recheckInterval: 5000 } }).sockets,
      ).toEqual({ allowedOrigins: ['https://b.example'], broadcast, recheckInterval: 5000 });
    });

    it.each<[string, unknown, string]>([
      ['a string', 'on', 'sockets: must be an object { allowedOrigins?, broadcast?, recheckInterval? }'],
      ['a path as origin', { allowedOrigins: ['https://a.example/ws'] }, 'sockets.allowedOrigins: "https://a.example/ws" is not an origin (scheme://host[:port], no path or trailing slash)'],
      ['a broadcast without subscribe', { broadcast: { publish: () => undefined } }, 'sockets.broadcast: must have publish(key, reason) and subscribe(listener) methods (e.g. new RedisEndedSessionBroadcast({ client }))'],
      ['an interval in seconds', { recheckInterval: 30 }, 'sockets.recheckInterval: must be a whole number of milliseconds from 1000 to 86400000 (got 30)'],
      ['an interval past a day', { recheckInterval: 2 ** 31 }, 'sockets.recheckInterval: must be a whole number of milliseconds from 1000 to 86400000 (got 2147483648)'],
    ])('refuses sockets as %s', (_label, sockets, problem) => {
      expect(() => resolveSessionOptions({ secret: SECRET, sockets: sockets as never })).toThrow(expect.objectContaining({ problems: [problem] }));
    });

    it('keeps a client-side configuration with its revocation store', () => {
      const resolved = resolveSessionOptions({ secret: SECRET, mode: 'cookie', revocationStore: validStore });
      expect(resolved).toMatchObject({ mode: 'cookie', store: undefined, revocationStore: validStore });
    });

    it.each<[string, Partial<SessionOptions>, string]>([
      ['a store with mode cookie', { mode: 'cookie', store: validStore }, "store: not used with mode: 'cookie' (the session lives in the cookie); set revocationStore for the revocation list"],
      ['a revocation store with mode server', { revocationStore: validStore }, "revocationStore: only used with mode: 'cookie' (server-side sessions are revoked by deleting them from store)"],
      ['an unknown mode', { mode: 'jwt' as never }, `mode: must be 'server' or 'cookie' (got "jwt")`],
      ['a revocation store missing methods', { mode: 'cookie', revocationStore: {} as never }, 'revocationStore: must implement the SessionStore contract (missing get, set, update, destroy, touch)'],
    ])('refuses %s', (_label, options, problem) => {
      expect(() => resolveSessionOptions({ secret: SECRET, ...options })).toThrow(expect.objectContaining({ problems: [problem] }));
    });

    it.each<[string, Partial<SessionOptions>]>([
      ['a __Secure- name with secure auto', { name: '__Secure-sid' }],
      ['a __Host- name with secure auto and path /', { name: '__Host-sid', cookie: { path: '/' } }],
      ['a domain and a sub-path', { cookie: { domain: 'example.com', path: '/app' } }],
      ['a leading-dot domain', { cookie: { domain: '.example.com' } }],
      ['sameSite strict with secure false', { cookie: { sameSite: 'strict', secure: false } }],
      ['idle equal to absolute', { idleTimeout: 3_600_000, absoluteTimeout: 3_600_000 }],
      ['timeouts of exactly one second', { idleTimeout: 1_000, absoluteTimeout: 1_000 }],
      ['timeouts of exactly 400 days', { idleTimeout: 400 * 86_400_000, absoluteTimeout: 400 * 86_400_000 }],
      ['a multi-byte secret of exactly 32 bytes', { secret: 'é'.repeat(16) }],
      ['a secret of exactly 32 ASCII bytes', { secret: 'a'.repeat(32) }],
    ])('accepts %s', (_label, overrides) => {
      expect(() => resolveSessionOptions({ secret: SECRET, ...overrides })).not.toThrow();
    });
  });

  describe('reports each problem with its option name', () => {
    it.each<[string, unknown, string]>([
      // secret
      ['secret missing', {}, 'secret: is required (a string of at least 32 bytes, or an array of them, newest first)'],
      ['secret empty', { secret: '' }, 'secret: is required (a string of at least 32 bytes, or an array of them, newest first)'],
      ['secret null', { secret: null }, 'secret: is required (a string of at least 32 bytes, or an array of them, newest first)'],
      ['secret too short', { secret: 'short' }, 'secret: must be at least 32 bytes (got 5)'],
      ['secret one byte short', { secret: 'a'.repeat(31) }, 'secret: must be at least 32 bytes (got 31)'],
      ['secret not a string', { secret: 12345 }, 'secret: must be a string'],
      ['secret an empty array', { secret: [] }, 'secret: the array must hold at least one secret'],
      ['secret array with a short entry', { secret: [SECRET, 'short'] }, 'secret[1]: must be at least 32 bytes (got 5)'],
      ['secret array with a non-string entry', { secret: [SECRET, 7] }, 'secret[1]: must be a string'],
      ['secret array with a duplicate', { secret: [SECRET, OTHER_SECRET, SECRET] }, 'secret: contains the same secret twice'],
      // name
      ['name with a space', { secret: SECRET, name: 'my sid' }, 'name: must be a cookie name made of RFC 6265 token characters, e.g. "sid" or "__Host-sid"'],
      ['name with "="', { secret: SECRET, name: 'sid=' }, 'name: must be a cookie name made of RFC 6265 token characters, e.g. "sid" or "__Host-sid"'],
      ['name with ";"', { secret: SECRET, name: 'a;b' }, 'name: must be a cookie name made of RFC 6265 token characters, e.g. "sid" or "__Host-sid"'],
      ['name empty', { secret: SECRET, name: '' }, 'name: must be a cookie name made of RFC 6265 token characters, e.g. "sid" or "__Host-sid"'],
      ['name not a string', { secret: SECRET, name: 42 }, 'name: must be a cookie name made of RFC 6265 token characters, e.g. "sid" or "__Host-sid"'],
      // cookie
      ['cookie not an object', { secret: SECRET, cookie: 'secure' }, 'cookie: must be an object of cookie attributes'],
      ['cookie null', { secret: SECRET, cookie: null }, 'cookie: must be an object of cookie attributes'],
      ['cookie an array', { secret: SECRET, cookie: [] }, 'cookie: must be an object of cookie attributes'],
      ['cookie option typo', { secret: SECRET, cookie: { httponly: true } }, 'cookie.httponly: unknown option (known: httpOnly, sameSite, path, secure, domain, maxAge)'],
      ['cookie.httpOnly not boolean', { secret: SECRET, cookie: { httpOnly: 'yes' } }, 'cookie.httpOnly: must be true or false (got "yes")'],
      ['cookie.sameSite unknown', { secret: SECRET, cookie: { sameSite: 'Lax' } }, `cookie.sameSite: must be 'lax', 'strict' or 'none' (got "Lax")`],
      ['cookie.sameSite boolean', { secret: SECRET, cookie: { sameSite: true } }, `cookie.sameSite: must be 'lax', 'strict' or 'none' (got true)`],
      ['cookie.secure a string', { secret: SECRET, cookie: { secure: 'true' } }, `cookie.secure: must be true, false or 'auto' (got "true")`],
      ['cookie.path relative', { secret: SECRET, cookie: { path: 'app' } }, 'cookie.path: must start with "/" and contain no spaces, semicolons or control characters'],
      ['cookie.path with ";"', { secret: SECRET, cookie: { path: '/a;Domain=evil' } }, 'cookie.path: must start with "/" and contain no spaces, semicolons or control characters'],
      ['cookie.path with a space', { secret: SECRET, cookie: { path: '/a b' } }, 'cookie.path: must start with "/" and contain no spaces, semicolons or control characters'],
      ['cookie.domain with a port', { secret: SECRET, cookie: { domain: 'example.com:8080' } }, 'cookie.domain: must be a host name such as "example.com"'],
      ['cookie.domain with ";"', { secret: SECRET, cookie: { domain: 'a.com; Path=/x' } }, 'cookie.domain: must be a host name such as "example.com"'],
      ['cookie.domain empty', { secret: SECRET, cookie: { domain: '' } }, 'cookie.domain: must be a host name such as "example.com"'],
      ['cookie.maxAge negative', { secret: SECRET, cookie: { maxAge: -1 } }, 'cookie.maxAge: must be a positive whole number of milliseconds (got -1)'],
      ['cookie.maxAge in seconds', { secret: SECRET, cookie: { maxAge: 3600 * 0.25 } }, 'cookie.maxAge: is in milliseconds; 900 ms is under a second (did you mean seconds?)'],
      ['sameSite none without secure', { secret: SECRET, cookie: { sameSite: 'none' } }, "cookie.sameSite: 'none' requires cookie.secure: true (browsers reject SameSite=None without Secure)"],
      ['sameSite none with secure false', { secret: SECRET, cookie: { sameSite: 'none', secure: false } }, "cookie.sameSite: 'none' requires cookie.secure: true (browsers reject SameSite=None without Secure)"],
      // cookie prefixes
      ['__Host- with a domain', { secret: SECRET, name: '__Host-sid', cookie: { domain: 'example.com' } }, 'cookie.domain: must be unset with the __Host- prefix (the cookie is host-only)'],
      ['__Host- with a sub-path', { secret: SECRET, name: '__Host-sid', cookie: { path: '/app' } }, 'cookie.path: must be "/" with the __Host- prefix'],
      ['__Host- with secure false', { secret: SECRET, name: '__Host-sid', cookie: { secure: false } }, 'name: the __Host- prefix requires a Secure cookie (cookie.secure must not be false)'],
      ['__Secure- with secure false', { secret: SECRET, name: '__Secure-sid', cookie: { secure: false } }, 'name: the __Secure- prefix requires a Secure cookie (cookie.secure must not be false)'],
      // timeouts
      ['idleTimeout in seconds by mistake', { secret: SECRET, idleTimeout: 900 }, 'idleTimeout: is in milliseconds; 900 ms is under a second (did you mean seconds?)'],
      ['idleTimeout just under a second', { secret: SECRET, idleTimeout: 999 }, 'idleTimeout: is in milliseconds; 999 ms is under a second (did you mean seconds?)'],
      ['absoluteTimeout in seconds by mistake', { secret: SECRET, idleTimeout: 1_000, absoluteTimeout: 600 }, 'absoluteTimeout: is in milliseconds; 600 ms is under a second (did you mean seconds?)'],
      ['idleTimeout zero', { secret: SECRET, idleTimeout: 0 }, 'idleTimeout: must be a positive whole number of milliseconds (got 0)'],
      ['idleTimeout fractional', { secret: SECRET, idleTimeout: 1500.5 }, 'idleTimeout: must be a positive whole number of milliseconds (got 1500.5)'],
      ['idleTimeout NaN', { secret: SECRET, idleTimeout: Number.NaN }, 'idleTimeout: must be a positive whole number of milliseconds (got NaN)'],
      ['idleTimeout Infinity', { secret: SECRET, idleTimeout: Number.POSITIVE_INFINITY }, 'idleTimeout: must be a positive whole number of milliseconds (got Infinity)'],
      ['idleTimeout a string', { secret: SECRET, idleTimeout: '1800000' }, 'idleTimeout: must be a positive whole number of milliseconds (got "1800000")'],
      ['absoluteTimeout over 400 days', { secret: SECRET, absoluteTimeout: 400 * 86_400_000 + 1 }, 'absoluteTimeout: must be at most 400 days (34560000000 ms), the longest lifetime browsers keep a cookie'],
      ['absolute shorter than idle', { secret: SECRET, idleTimeout: 3_600_000, absoluteTimeout: 1_800_000 }, 'absoluteTimeout: must be at least idleTimeout (3600000 ms)'],
      ['absolute shorter than the default idle', { secret: SECRET, absoluteTimeout: 60_000 }, 'absoluteTimeout: must be at least idleTimeout (1800000 ms)'],
      // booleans
      ['trustProxy not boolean', { secret: SECRET, trustProxy: 1 }, 'trustProxy: must be true or false (got 1)'],
      ['rolling not boolean', { secret: SECRET, rolling: 'true' }, 'rolling: must be true or false (got "true")'],
      ['saveUninitialized not boolean', { secret: SECRET, saveUninitialized: null }, 'saveUninitialized: must be true or false (got null)'],
      // store
      ['store missing every method', { secret: SECRET, store: {} }, 'store: must implement the SessionStore contract (missing get, set, update, destroy, touch)'],
      ['store missing touch', { secret: SECRET, store: { get: validStore.get, set: validStore.set, update: validStore.update, destroy: validStore.destroy } }, 'store: must implement the SessionStore contract (missing touch)'],
      ['store with a non-function method', { secret: SECRET, store: { ...validStore, get: 'redis://localhost' } }, 'store: must implement the SessionStore contract (missing get)'],
      ['store null', { secret: SECRET, store: null }, 'store: must implement the SessionStore contract (missing get, set, update, destroy, touch)'],
      // unknown options
      ['a top-level typo', { secret: SECRET, idleTimout: 60_000 }, 'idleTimout: unknown option (known: secret, name, cookie, trustProxy, idleTimeout, absoluteTimeout, rolling, saveUninitialized, mode, store, revocationStore, maxSessionsPerUser, guard, loginPath, csrf, sockets)'],
      ['an express-session option', { secret: SECRET, resave: false }, 'resave: unknown option (known: secret, name, cookie, trustProxy, idleTimeout, absoluteTimeout, rolling, saveUninitialized, mode, store, revocationStore, maxSessionsPerUser, guard, loginPath, csrf, sockets)'],
      // guard and loginPath
      ['guard invalid', { secret: SECRET, guard: 'all' }, `guard: must be 'global' or 'none' (got "all")`],
      ['guard boolean', { secret: SECRET, guard: true }, `guard: must be 'global' or 'none' (got true)`],
      ['loginPath protocol-relative', { secret: SECRET, loginPath: '//evil' }, 'loginPath: must be a same-origin path such as "/login"'],
      ['loginPath absolute', { secret: SECRET, loginPath: 'https://evil.example/login' }, 'loginPath: must be a same-origin path such as "/login"'],
      ['loginPath relative', { secret: SECRET, loginPath: 'login' }, 'loginPath: must be a same-origin path such as "/login"'],
      ['loginPath empty', { secret: SECRET, loginPath: '' }, 'loginPath: must be a same-origin path such as "/login"'],
      ['loginPath not a string', { secret: SECRET, loginPath: ['/login'] }, 'loginPath: must be a same-origin path such as "/login"'],
    ])('%s', (_label, input, problem) => {
      expect(problemsOf(input)).toEqual([problem]);
    });

    it.each<[string, unknown]>([
      ['undefined', undefined],
      ['null', null],
      ['a string (the secret passed directly)', SECRET],
    ])('refuses options that are %s', (_label, input) => {
      expect(problemsOf(input)).toEqual(['options: must be an object with at least `secret`']);
    });
  });

  describe('several problems at once', () => {
    it('lists every problem, in order, in one SessionConfigError', () => {
      const problems = problemsOf({
        secret: ['short', 'short'],
        name: 'bad name',
        cookie: { sameSite: 'none', secure: false },
        idleTimeout: 30,
        absoluteTimeout: 60,
        store: { get: validStore.get },
        guard: 'sometimes',
        loginPath: '//evil',
        idelTimeout: 1,
      });
      expect(problems).toEqual([
        'idelTimeout: unknown option (known: secret, name, cookie, trustProxy, idleTimeout, absoluteTimeout, rolling, saveUninitialized, mode, store, revocationStore, maxSessionsPerUser, guard, loginPath, csrf, sockets)',
        'secret[0]: must be at least 32 bytes (got 5)',
        'secret[1]: must be at least 32 bytes (got 5)',
        'secret: contains the same secret twice',
        'name: must be a cookie name made of RFC 6265 token characters, e.g. "sid" or "__Host-sid"',
        "cookie.sameSite: 'none' requires cookie.secure: true (browsers reject SameSite=None without Secure)",
        'idleTimeout: is in milliseconds; 30 ms is under a second (did you mean seconds?)',
        'absoluteTimeout: is in milliseconds; 60 ms is under a second (did you mean seconds?)',
        'store: must implement the SessionStore contract (missing set, update, destroy, touch)',
        `guard: must be 'global' or 'none' (got "sometimes")`,
        'loginPath: must be a same-origin path such as "/login"',
      ]);
    });

    it('lists every __Host- prefix violation together', () => {
      expect(problemsOf({ secret: SECRET, name: '__Host-sid', cookie: { secure: false, domain: 'example.com', path: '/app' } })).toEqual([
        'name: the __Host- prefix requires a Secure cookie (cookie.secure must not be false)',
        'cookie.domain: must be unset with the __Host- prefix (the cookie is host-only)',
        'cookie.path: must be "/" with the __Host- prefix',
      ]);
    });

    it('puts the count and every problem in the message', () => {
      let thrown: unknown;
      try {
        resolve({ secret: 'short', guard: 'x' });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(SessionConfigError);
      const message = (thrown as Error).message;
      expect(message).toContain('(2 problems)');
      expect(message).toContain('  - secret: must be at least 32 bytes (got 5)');
      expect(message).toContain(`  - guard: must be 'global' or 'none' (got "x")`);
    });
  });
});

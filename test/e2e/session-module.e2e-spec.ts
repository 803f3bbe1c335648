import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Injectable,
  Module,
  Param,
  Post,
  UnauthorizedException,
  UseGuards,
  type ConfigurableModuleOptionsFactory,
  type DynamicModule,
  type ExecutionContext,
  type INestApplication,
  type ModuleMetadata,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { IncomingMessage } from 'node:http';
import request from 'supertest';
import {
  hashSessionId,
  InjectSessionStore,
  MemoryStore,
  Public,
  Roles,
  Session,
  SessionConfigError,
  SessionGuard,
  SessionModule,
  type SessionModuleOptions,
  type SessionOptions,
  type SessionStore,
} from '@app/session';
import { expiresCookie, sessionCookieFrom, sessionIdOf, setCookieFor, TEST_SECRET } from '../support/test-stores';
import { createTestApp } from '../support/http-platform';

// Test-only secrets (never used outside tests), at least 32 bytes each.
const OLD_SECRET = 'old-test-only-secret-0123456789-abcdefghijklmn';
const NEW_SECRET = 'new-test-only-secret-0123456789-abcdefghijklmn';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

// --- Registration variants ---------------------------------------------------------------------

/** Where the async variants read their options from: a stand-in for a configuration module. */
const SESSION_SETTINGS = Symbol('SESSION_SETTINGS');

@Module({})
class SettingsModule {
  static with(options: SessionOptions): DynamicModule {
    return {
      module: SettingsModule,
      providers: [{ provide: SESSION_SETTINGS, useValue: options }],
      exports: [SESSION_SETTINGS],
    };
  }
}

@Injectable()
class SessionSettingsFactory implements ConfigurableModuleOptionsFactory<SessionOptions, 'createSessionOptions'> {
  constructor(@Inject(SESSION_SETTINGS) private readonly settings: SessionOptions) {}

  createSessionOptions(): SessionOptions {
    return this.settings;
  }
}

type Registration = (options: SessionModuleOptions) => DynamicModule;

const REGISTRATIONS: ReadonlyArray<readonly [string, Registration]> = [
  ['forRoot', (options) => SessionModule.forRoot(options)],
  [
    'forRootAsync with useFactory and inject',
    ({ isGlobal, ...options }) =>
      SessionModule.forRootAsync({
        isGlobal,
        imports: [SettingsModule.with(options)],
        inject: [SESSION_SETTINGS],
        useFactory: async (settings: SessionOptions) => settings,
      }),
  ],
  [
    'forRootAsync with useClass',
    ({ isGlobal, ...options }) =>
      SessionModule.forRootAsync({ isGlobal, imports: [SettingsModule.with(options)], useClass: SessionSettingsFactory }),
  ],
];

// --- Test application --------------------------------------------------------------------------

type AccountSession = Session<{ visits: number }>;

/** Sign in as anyone (`admin` gets the admin role), sign out. Open under every guard setting. */
@Public()
@Controller('account')
class AccountController {
  @Post('login')
  @HttpCode(200)
  async login(@Session() session: AccountSession, @Body() body: { username: string }): Promise<{ id: string }> {
    await session.login({ id: body.username, roles: body.username === 'admin' ? ['admin'] : ['reader'] });
    return { id: body.username };
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@Session() session: AccountSession): Promise<void> {
    await session.logout();
  }

  /** `Session<{ visits: number }>` types the data: `visits` is a number here. */
  @Post('visits')
  @HttpCode(200)
  countVisit(@Session() session: AccountSession): { visits: number } {
    session.visits = (session.visits ?? 0) + 1;
    return { visits: session.visits };
  }
}

/** Compile-time check of the typed session; never called. */
export function typedSessionRejectsWrongTypes(session: AccountSession): void {
  // @ts-expect-error `visits` is declared as a number
  session.visits = 'many';
}

/** Routes protected only by the global guard (`guard: 'global'`). */
@Controller()
class GloballyGuardedController {
  @Public()
  @Get('public')
  open(): { open: true } {
    return { open: true };
  }

  @Get('me')
  me(@Session() session: AccountSession): { id: string | number } {
    return { id: session.user!.id };
  }

  @Roles('admin')
  @Get('admin')
  admin(): { admin: true } {
    return { admin: true };
  }

  @Get('reports/:quarter')
  report(@Param('quarter') quarter: string): { quarter: string } {
    return { quarter };
  }

  @Post('reports/:quarter')
  @HttpCode(200)
  updateReport(@Param('quarter') quarter: string): { quarter: string } {
    return { quarter };
  }
}

/**
 * A guard that changes only the anonymous decision: a guest pass header lets anonymous requests
 * in, and nobody is redirected to a login page (an API-only area).
 */
@Injectable()
class GuestPassGuard extends SessionGuard {
  protected override handleAnonymous(_context: ExecutionContext, request: IncomingMessage): boolean {
    if (request.headers['x-guest-pass'] === 'demo-guest-pass') return true;
    throw new UnauthorizedException('Sign in through the API');
  }
}

/** Routes that opt in to the guard themselves (`guard: 'none'`). */
@Controller('manual')
class ManuallyGuardedController {
  @Get('open')
  open(): { open: true } {
    return { open: true };
  }

  @UseGuards(SessionGuard)
  @Get('me')
  me(@Session() session: AccountSession): { id: string | number } {
    return { id: session.user!.id };
  }

  @UseGuards(SessionGuard)
  @Roles('admin')
  @Get('admin')
  admin(): { admin: true } {
    return { admin: true };
  }

  @UseGuards(GuestPassGuard)
  @Get('guest-area')
  guestArea(@Session() session: AccountSession): { id: string | number | null } {
    return { id: session.user?.id ?? null };
  }
}

/** A maintenance service in a feature module that does not import SessionModule. */
@Injectable()
class SessionAdmin {
  constructor(@InjectSessionStore() readonly store: SessionStore) {}

  /** Ends the session of the current request directly in the store, as an admin tool would. */
  revoke(sessionId: string): Promise<void> {
    return this.store.destroy(hashSessionId(sessionId));
  }
}

@Controller('admin-tools')
class AdminToolsController {
  constructor(private readonly admin: SessionAdmin) {}

  @Public()
  @Post('revoke-mine')
  @HttpCode(204)
  async revokeMine(@Session() session: AccountSession): Promise<void> {
    await this.admin.revoke(session.id);
  }
}

@Module({ providers: [SessionAdmin], controllers: [AdminToolsController] })
class AdminToolsModule {}

async function boot(sessionModule: DynamicModule, metadata: ModuleMetadata = {}): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    ...metadata,
    imports: [sessionModule, ...(metadata.imports ?? [])],
  }).compile();
  return createTestApp(moduleRef, { logger: false });
}

async function loginAs(app: INestApplication, username: string): Promise<string> {
  const response = await request(app.getHttpServer()).post('/account/login').send({ username }).expect(200);
  return sessionCookieFrom(response);
}

// --- The suite, once per registration variant --------------------------------------------------

describe.each(REGISTRATIONS)('SessionModule.%s', (_name, register) => {
  const apps: INestApplication[] = [];

  async function start(options: SessionModuleOptions, metadata: ModuleMetadata): Promise<INestApplication> {
    const app = await boot(register(options), metadata);
    apps.push(app);
    return app;
  }

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });

  describe("with guard: 'global'", () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await start(
        { secret: TEST_SECRET, guard: 'global', loginPath: '/signin' },
        { controllers: [AccountController, GloballyGuardedController] },
      );
    });

    it('keeps a @Public() route open to anonymous requests', async () => {
      const response = await request(app.getHttpServer()).get('/public').expect(200);
      expect(response.body).toEqual({ open: true });
    });

    it('answers 401 on every other route for an anonymous API request', async () => {
      const response = await request(app.getHttpServer()).get('/me').set('Accept', 'application/json').expect(401);
      expect(response.body).toMatchObject({ statusCode: 401, message: 'Authentication required' });
    });

    it('lets a signed-in user in, and logout ends it for good', async () => {
      const cookie = await loginAs(app, 'alice');
      const me = await request(app.getHttpServer()).get('/me').set('Cookie', cookie).expect(200);
      expect(me.body).toEqual({ id: 'alice' });

      const logout = await request(app.getHttpServer()).post('/account/logout').set('Cookie', cookie).expect(204);
      expect(expiresCookie(logout)).toBe(true);

      await request(app.getHttpServer()).get('/me').set('Cookie', cookie).set('Accept', 'application/json').expect(401);
    });

    it('answers 403 for @Roles() the user lacks, and lets a holder of the role in', async () => {
      const reader = await loginAs(app, 'alice');
      const forbidden = await request(app.getHttpServer()).get('/admin').set('Cookie', reader).expect(403);
      expect(forbidden.body).toMatchObject({ statusCode: 403, message: 'Requires one of the roles: admin' });

      const admin = await loginAs(app, 'admin');
      const allowed = await request(app.getHttpServer()).get('/admin').set('Cookie', admin).expect(200);
      expect(allowed.body).toEqual({ admin: true });
    });

    it('redirects a browser asking for a page to loginPath with 303 and the encoded page as returnTo', async () => {
      const page = '/reports/q3?year=2024&view=full';

      const response = await request(app.getHttpServer()).get(page).set('Accept', BROWSER_ACCEPT).expect(303);

      expect(response.headers.location).toBe(`/signin?returnTo=${encodeURIComponent(page)}`);
    });

    it.each([
      ['application/json', 'get'],
      ['*/*', 'get'],
      [BROWSER_ACCEPT, 'post'],
    ] as const)('answers 401 without a redirect for Accept %j on %s', async (accept, method) => {
      const response = await request(app.getHttpServer())[method]('/reports/q3').set('Accept', accept).expect(401);

      expect(response.headers.location).toBeUndefined();
      expect(response.body).toMatchObject({ statusCode: 401 });
    });

    it('types the session with Session<{ visits: number }> and keeps the count across requests', async () => {
      const first = await request(app.getHttpServer()).post('/account/visits').expect(200);
      expect(first.body).toEqual({ visits: 1 });
      const cookie = sessionCookieFrom(first);

      const second = await request(app.getHttpServer()).post('/account/visits').set('Cookie', cookie).expect(200);
      const third = await request(app.getHttpServer()).post('/account/visits').set('Cookie', cookie).expect(200);

      expect([second.body, third.body]).toEqual([{ visits: 2 }, { visits: 3 }]);
    });
  });

  describe("with guard: 'none' and @UseGuards(SessionGuard)", () => {
    let app: INestApplication;

    beforeAll(async () => {
      app = await start({ secret: TEST_SECRET, guard: 'none' }, { controllers: [AccountController, ManuallyGuardedController] });
    });

    it('leaves a route without the guard open (no @Public() needed)', async () => {
      await request(app.getHttpServer()).get('/manual/open').expect(200, { open: true });
    });

    it('protects the routes that use the guard, with the default loginPath for pages', async () => {
      await request(app.getHttpServer()).get('/manual/me').set('Accept', 'application/json').expect(401);
      const page = await request(app.getHttpServer()).get('/manual/me').set('Accept', BROWSER_ACCEPT).expect(303);
      expect(page.headers.location).toBe(`/login?returnTo=${encodeURIComponent('/manual/me')}`);

      const cookie = await loginAs(app, 'alice');
      await request(app.getHttpServer()).get('/manual/me').set('Cookie', cookie).expect(200, { id: 'alice' });
    });

    it('checks @Roles() on a guarded route', async () => {
      await request(app.getHttpServer()).get('/manual/admin').set('Cookie', await loginAs(app, 'alice')).expect(403);
      await request(app.getHttpServer()).get('/manual/admin').set('Cookie', await loginAs(app, 'admin')).expect(200);
    });

    describe('a SessionGuard subclass overriding handleAnonymous', () => {
      it('answers a browser with 401 where the base guard redirects', async () => {
        const base = await request(app.getHttpServer()).get('/manual/me').set('Accept', BROWSER_ACCEPT);
        expect(base.status).toBe(303);

        const overridden = await request(app.getHttpServer()).get('/manual/guest-area').set('Accept', BROWSER_ACCEPT);

        expect(overridden.status).toBe(401);
        expect(overridden.headers.location).toBeUndefined();
        expect(overridden.body).toMatchObject({ message: 'Sign in through the API' });
      });

      it('lets an anonymous request with the guest pass through', async () => {
        await request(app.getHttpServer())
          .get('/manual/guest-area')
          .set('X-Guest-Pass', 'demo-guest-pass')
          .expect(200, { id: null });
        await request(app.getHttpServer()).get('/manual/guest-area').set('X-Guest-Pass', 'wrong').expect(401);
      });

      it('leaves signed-in users to the base guard', async () => {
        const cookie = await loginAs(app, 'alice');
        await request(app.getHttpServer()).get('/manual/guest-area').set('Cookie', cookie).expect(200, { id: 'alice' });
      });
    });
  });

  describe('invalid options', () => {
    it('fail at boot with one SessionConfigError listing every problem', async () => {
      const invalid = {
        secret: 'too-short',
        idleTimeout: 5,
        guard: 'sometimes',
        loginPath: 'https://evil.example/login',
      } as unknown as SessionOptions;

      const error: unknown = await start(invalid, { controllers: [AccountController] }).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );

      expect(error).toBeInstanceOf(SessionConfigError);
      const problems = (error as SessionConfigError).problems;
      expect(problems).toEqual([
        expect.stringMatching(/^secret: must be at least 32 bytes/),
        expect.stringMatching(/^idleTimeout: is in milliseconds/),
        expect.stringMatching(/^guard: must be 'global' or 'none'/),
        expect.stringMatching(/^loginPath: must be a same-origin path/),
      ]);
      for (const problem of problems) expect((error as SessionConfigError).message).toContain(problem);
    });

    it('report a single problem alone', async () => {
      const error: unknown = await start({ secret: TEST_SECRET, absoluteTimeout: 60_000, idleTimeout: 120_000 }, {}).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );

      expect(error).toBeInstanceOf(SessionConfigError);
      expect((error as SessionConfigError).problems).toEqual([
        'absoluteTimeout: must be at least idleTimeout (120000 ms)',
      ]);
    });
  });

  describe('isGlobal', () => {
    it('lets a feature module that does not import SessionModule inject the store with InjectSessionStore()', async () => {
      const store = new MemoryStore();
      const app = await start(
        { secret: TEST_SECRET, store, guard: 'global', isGlobal: true },
        { imports: [AdminToolsModule], controllers: [AccountController, GloballyGuardedController] },
      );
      expect(app.get(SessionAdmin).store).toBe(store);

      const cookie = await loginAs(app, 'alice');
      await request(app.getHttpServer()).post('/admin-tools/revoke-mine').set('Cookie', cookie).expect(204);

      await request(app.getHttpServer()).get('/me').set('Cookie', cookie).set('Accept', 'application/json').expect(401);
      expect(store.size).toBe(0);
    });

    it('is needed: without it the feature module cannot resolve the store', async () => {
      await expect(
        start({ secret: TEST_SECRET, store: new MemoryStore() }, { imports: [AdminToolsModule] }),
      ).rejects.toThrow(/resolve dependencies of the SessionAdmin/);
    });
  });

  describe('key rotation (apps sharing one store)', () => {
    let oldOnly: INestApplication;
    let rotating: INestApplication;
    let newOnly: INestApplication;

    beforeAll(async () => {
      const store = new MemoryStore();
      const metadata = { controllers: [AccountController, GloballyGuardedController] };
      oldOnly = await start({ secret: [OLD_SECRET], store, guard: 'global' }, metadata);
      rotating = await start({ secret: [NEW_SECRET, OLD_SECRET], store, guard: 'global' }, metadata);
      newOnly = await start({ secret: [NEW_SECRET], store, guard: 'global' }, metadata);
    });

    it('accepts a cookie signed with the old secret and re-issues it signed with the new one', async () => {
      const oldCookie = await loginAs(oldOnly, 'alice');

      const response = await request(rotating.getHttpServer()).get('/me').set('Cookie', oldCookie).expect(200);

      expect(response.body).toEqual({ id: 'alice' });
      const reissued = sessionCookieFrom(response);
      expect(reissued).not.toBe(oldCookie);
      expect(sessionIdOf(reissued)).toBe(sessionIdOf(oldCookie));
      // Only the new secret verifies the re-issued cookie: it was signed with it.
      await request(newOnly.getHttpServer()).get('/me').set('Cookie', reissued).expect(200, { id: 'alice' });
      await request(oldOnly.getHttpServer()).get('/me').set('Cookie', reissued).set('Accept', 'application/json').expect(401);
    });

    it('does not re-issue a cookie already signed with the newest secret', async () => {
      const current = await loginAs(rotating, 'alice');

      const response = await request(rotating.getHttpServer()).get('/me').set('Cookie', current).expect(200);

      expect(setCookieFor(response)).toBeUndefined();
    });

    it('rejects the old cookie once the old secret is removed, as anonymous, and deletes it', async () => {
      const oldCookie = await loginAs(oldOnly, 'alice');

      const response = await request(newOnly.getHttpServer())
        .get('/me')
        .set('Cookie', oldCookie)
        .set('Accept', 'application/json')
        .expect(401);

      expect(expiresCookie(response)).toBe(true);
    });
  });
});

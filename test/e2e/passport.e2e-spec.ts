// Express only, whatever HTTP_PLATFORM says: @nestjs/passport supports Express only (the library
// README says so and shows session.login() for Fastify).
import {
  Controller,
  ExecutionContext,
  Get,
  HttpCode,
  Inject,
  Injectable,
  Module,
  Post,
  Req,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type DynamicModule,
  type INestApplication,
  type MiddlewareConsumer,
  type NestModule,
} from '@nestjs/common';
import { AuthGuard, PassportModule, PassportSerializer, PassportStrategy } from '@nestjs/passport';
import { Test } from '@nestjs/testing';
import type { Request } from 'express';
import passport from 'passport';
import { Strategy } from 'passport-local';
import request from 'supertest';
import { Session, SessionModule, SessionMiddleware } from '@app/session';
import {
  expiresCookie,
  sessionCookieFrom,
  sessionIdOf,
  setCookieFor,
  SpyStore,
  TEST_SECRET,
} from '../support/test-stores';

interface User {
  readonly id: string;
  readonly username: string;
}

// Demo-only credentials, compared in plain text because hashing is not what these tests are about.
const USERS: ReadonlyMap<string, User & { password: string }> = new Map([
  ['alice', { id: 'alice', username: 'alice', password: 'alice-password' }],
]);

@Injectable()
class UsersService {
  verify(username: string, password: string): User | undefined {
    const found = USERS.get(username);
    if (!found || found.password !== password) return undefined;
    return { id: found.id, username: found.username };
  }

  findById(id: string): User | undefined {
    const found = USERS.get(id);
    return found && { id: found.id, username: found.username };
  }
}

@Injectable()
class LocalStrategy extends PassportStrategy(Strategy) {
  constructor(private readonly users: UsersService) {
    super();
  }

  validate(username: string, password: string): User {
    const user = this.users.verify(username, password);
    if (!user) throw new UnauthorizedException('Invalid username or password');
    return user;
  }
}

/** Keeps only the user id in the session and loads the user from it on every request. */
@Injectable()
class SessionSerializer extends PassportSerializer {
  constructor(private readonly users: UsersService) {
    super();
  }

  serializeUser(user: User, done: (error: Error | null, id?: string) => void): void {
    done(null, user.id);
  }

  deserializeUser(id: string, done: (error: Error | null, user?: User | false) => void): void {
    done(null, this.users.findById(id) ?? false);
  }
}

/** Checks the credentials, then starts the login session: `req.login` → `req.session.regenerate` / `save`. */
@Injectable()
class LocalLoginGuard extends AuthGuard('local') {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const allowed = (await super.canActivate(context)) as boolean;
    await super.logIn(context.switchToHttp().getRequest<Request>());
    return allowed;
  }
}

@Injectable()
class AuthenticatedGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (!context.switchToHttp().getRequest<Request>().isAuthenticated()) throw new UnauthorizedException();
    return true;
  }
}

type ShopSession = Session<{ cart: string[] }>;

@Controller()
class PassportController {
  @Post('login')
  @UseGuards(LocalLoginGuard)
  @HttpCode(200)
  login(@Req() req: Request): { user: Express.User | undefined } {
    return { user: req.user };
  }

  @Get('profile')
  @UseGuards(AuthenticatedGuard)
  profile(@Req() req: Request): { authenticated: boolean; user: Express.User | undefined } {
    return { authenticated: req.isAuthenticated(), user: req.user };
  }

  @Post('logout')
  @HttpCode(204)
  logout(@Req() req: Request): Promise<void> {
    return new Promise((resolve, reject) => {
      req.logout((error: unknown) => {
        if (error) reject(error instanceof Error ? error : new Error('logout failed', { cause: error }));
        else resolve();
      });
    });
  }

  /** Anonymous data, to see what a login keeps of it. */
  @Post('cart')
  @HttpCode(200)
  addToCart(@Session() session: ShopSession): { cart: string[] } {
    session.cart = [...(session.cart ?? []), 'book'];
    return { cart: session.cart };
  }

  @Get('cart')
  cart(@Session() session: ShopSession): { cart: string[] } {
    return { cart: session.cart ?? [] };
  }
}

/**
 * How the application orders passport's middleware after ours. Nest 12 mounts the middleware of
 * the root module before that of the modules it imports (ascending distance from the root; global
 * modules first of all), so `consumer.apply(passport.session())` alone in the root module runs
 * BEFORE SessionModule's middleware: `req.session` is still undefined and passport answers every
 * request with "Login sessions require session support" (a 500). Two orderings work:
 */
const ORDERINGS = [
  {
    name: 'SessionMiddleware applied before passport.session() in the root module',
    isGlobal: false,
    // The explicit SessionMiddleware loads the session; SessionModule's own mount then sees it
    // loaded and passes through, so the session is still loaded (and committed) once.
    middleware: (): Parameters<MiddlewareConsumer['apply']> => [SessionMiddleware, passport.session()],
  },
  {
    name: 'SessionModule registered with isGlobal: true (global modules mount their middleware first)',
    isGlobal: true,
    middleware: (): Parameters<MiddlewareConsumer['apply']> => [passport.session()],
  },
] as const;

type Ordering = (typeof ORDERINGS)[number];

interface PassportAppConfig {
  readonly store: SpyStore;
  readonly ordering: Ordering;
  readonly keepSessionInfo?: boolean;
}

const APP_CONFIG = Symbol('APP_CONFIG');

@Module({})
class PassportAppModule implements NestModule {
  constructor(@Inject(APP_CONFIG) private readonly config: PassportAppConfig) {}

  static register(config: PassportAppConfig): DynamicModule {
    return {
      module: PassportAppModule,
      imports: [
        SessionModule.forRoot({ secret: TEST_SECRET, store: config.store, isGlobal: config.ordering.isGlobal }),
        PassportModule.register({ session: true, keepSessionInfo: config.keepSessionInfo ?? false }),
      ],
      controllers: [PassportController],
      providers: [{ provide: APP_CONFIG, useValue: config }, UsersService, LocalStrategy, SessionSerializer],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(...this.config.ordering.middleware()).forRoutes('{*splat}');
  }
}

async function createApp(config: PassportAppConfig): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({ imports: [PassportAppModule.register(config)] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

const ALICE = { username: 'alice', password: 'alice-password' };

describe.each(ORDERINGS)('passport on our session, with $name', (ordering) => {
  let app: INestApplication;
  let store: SpyStore;

  beforeAll(async () => {
    store = new SpyStore();
    app = await createApp({ store, ordering });
  });

  afterAll(async () => {
    await app.close();
  });

  const server = () => app.getHttpServer();

  it('logs in, stores only the user id through serializeUser, and deserializes the user on later requests', async () => {
    const login = await request(server()).post('/login').send(ALICE).expect(200);
    expect(login.body).toEqual({ user: { id: 'alice', username: 'alice' } });
    const cookie = sessionCookieFrom(login);

    expect((await store.recordFor(cookie))?.data).toEqual({ passport: { user: 'alice' } });
    const mark = store.mark();
    const profile = await request(server()).get('/profile').set('Cookie', cookie).expect(200);
    expect(profile.body).toEqual({ authenticated: true, user: { id: 'alice', username: 'alice' } });
    // passport.session() saw the loaded session, and the session was loaded once, not per mount.
    expect(store.callsSince(mark).map((call) => call.operation)).toEqual(['get']);
  });

  it('rejects wrong credentials with 401 and starts no session', async () => {
    const mark = store.mark();

    const response = await request(server()).post('/login').send({ username: 'alice', password: 'wrong' }).expect(401);

    expect(setCookieFor(response)).toBeUndefined();
    expect(store.writesSince(mark)).toEqual([]);
  });

  it('treats a request without a login session as unauthenticated', async () => {
    await request(server()).get('/profile').expect(401);
  });

  it('changes the session id at login (fixation defence through regenerate) and kills the pre-login id', async () => {
    const anonymous = sessionCookieFrom(await request(server()).post('/cart').expect(200));

    const login = await request(server()).post('/login').set('Cookie', anonymous).send(ALICE).expect(200);
    const authenticated = sessionCookieFrom(login);

    expect(sessionIdOf(authenticated)).not.toBe(sessionIdOf(anonymous));
    await expect(store.recordFor(anonymous)).resolves.toBeUndefined();
    await request(server()).get('/profile').set('Cookie', anonymous).expect(401);
    await request(server()).get('/profile').set('Cookie', authenticated).expect(200);
    // Without keepSessionInfo passport starts the login session empty, as with express-session.
    await request(server()).get('/cart').set('Cookie', authenticated).expect(200, { cart: [] });
  });

  it('logs out with req.logout(cb): the id is dead afterwards and the cookie is deleted', async () => {
    const cookie = sessionCookieFrom(await request(server()).post('/login').send(ALICE).expect(200));
    await request(server()).get('/profile').set('Cookie', cookie).expect(200);

    const logout = await request(server()).post('/logout').set('Cookie', cookie).expect(204);

    expect(expiresCookie(logout)).toBe(true);
    await expect(store.recordFor(cookie)).resolves.toBeUndefined();
    await request(server()).get('/profile').set('Cookie', cookie).expect(401);
  });
});

describe.each(ORDERINGS)('passport with keepSessionInfo: true, with $name', (ordering) => {
  let app: INestApplication;
  let store: SpyStore;

  beforeAll(async () => {
    store = new SpyStore();
    app = await createApp({ store, ordering, keepSessionInfo: true });
  });

  afterAll(async () => {
    await app.close();
  });

  it('carries the anonymous session data into the login session under a new id, as with express-session', async () => {
    const anonymous = sessionCookieFrom(await request(app.getHttpServer()).post('/cart').expect(200));

    const login = await request(app.getHttpServer()).post('/login').set('Cookie', anonymous).send(ALICE).expect(200);
    const authenticated = sessionCookieFrom(login);

    expect(sessionIdOf(authenticated)).not.toBe(sessionIdOf(anonymous));
    await expect(store.recordFor(anonymous)).resolves.toBeUndefined();
    expect((await store.recordFor(authenticated))?.data).toEqual({ cart: ['book'], passport: { user: 'alice' } });
  });
});

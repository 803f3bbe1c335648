import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { App } from 'supertest/types';
import { MemoryStore, type SessionOptions } from '@app/session';
import { sessionCookieOf, setCookieOf } from '../support/cookies';
import { graphqlTestModule } from '../support/graphql-app';
import { createTestApp, HTTP_PLATFORM } from '../support/http-platform';
import { FailingStore, TEST_SECRET } from '../support/test-stores';

/*
 * The session in GraphQL resolvers, on this run's platform (Apollo on Express, Mercurius on
 * Fastify) and in both modes: the same cookie as HTTP routes, the guard's UNAUTHENTICATED and
 * FORBIDDEN errors, writes committed before the response, login rotating the id, csrf for
 * mutations, and a store outage never read as an anonymous user.
 */

interface GraphqlError {
  readonly message: string;
  readonly extensions?: { readonly code?: string };
}

interface GraphqlBody {
  readonly data?: Record<string, unknown> | null;
  readonly errors?: readonly GraphqlError[];
}

const MODES: ReadonlyArray<[string, Partial<SessionOptions>]> = [
  ['server-side', {}],
  ['client-side', { mode: 'cookie' }],
];

async function bootGraphql(options: Partial<SessionOptions> = {}): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [graphqlTestModule(HTTP_PLATFORM, { secret: TEST_SECRET, name: 'sid', ...options })],
  }).compile();
  return createTestApp(moduleRef, { logger: false });
}

function gql(app: INestApplication, query: string, cookie?: string, headers: Record<string, string> = {}) {
  const call = request(app.getHttpServer() as App)
    .post('/graphql')
    .set('Content-Type', 'application/json')
    .set(headers);
  if (cookie) call.set('Cookie', cookie);
  return call.send({ query });
}

function errorCodes(body: GraphqlBody): Array<string | undefined> {
  return (body.errors ?? []).map((error) => error.extensions?.code);
}

describe.each(MODES)(`GraphQL resolvers on ${HTTP_PLATFORM} (%s)`, (_mode, modeOptions) => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await bootGraphql({ ...modeOptions, csrf: true });
  });

  afterAll(async () => {
    await app.close();
  });

  async function signIn(admin = false): Promise<string> {
    const res = await gql(app, `mutation { login(id: "alice", admin: ${admin}) }`);
    expect(res.body).toEqual({ data: { login: true } });
    const cookie = sessionCookieOf(res);
    expect(cookie).toBeDefined();
    return cookie;
  }

  it('refuses an anonymous operation on a guarded resolver with UNAUTHENTICATED, not a redirect', async () => {
    const res = await gql(app, '{ me { id roles } }', undefined, { Accept: 'text/html,application/json' });
    expect(res.status).toBe(200);
    expect(res.headers.location).toBeUndefined();
    const body = res.body as GraphqlBody;
    expect(body.data ?? null).toBeNull();
    expect(errorCodes(body)).toEqual(['UNAUTHENTICATED']);
    expect(body.errors?.[0]?.message).toBe('Authentication required');
  });

  it('reads the signed-in session in queries and field resolvers after a login mutation, which rotated the id and sent the cookie', async () => {
    const anonymous = await gql(app, 'mutation { visit }');
    const before = sessionCookieOf(anonymous);
    const login = await gql(app, 'mutation { login(id: "alice", admin: false) }', before);
    const after = sessionCookieOf(login);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);

    const me = await gql(app, '{ me { id roles } profile { name owner } }', after);
    expect(me.body).toEqual({ data: { me: { id: 'alice', roles: ['user'] }, profile: { name: 'profile', owner: 'alice' } } });

    // The old id no longer works.
    const stale = await gql(app, '{ me { id } }', before);
    expect(errorCodes(stale.body as GraphqlBody)).toEqual(['UNAUTHENTICATED']);
  });

  it('answers FORBIDDEN for a missing role, and lets the role through', async () => {
    const user = await signIn(false);
    const refused = await gql(app, '{ adminOnly }', user);
    expect(errorCodes(refused.body as GraphqlBody)).toEqual(['FORBIDDEN']);
    expect((refused.body as GraphqlBody).errors?.[0]?.message).toBe('Requires one of the roles: admin');

    const admin = await signIn(true);
    expect((await gql(app, '{ adminOnly }', admin)).body).toEqual({ data: { adminOnly: 'secret' } });
  });

  it('commits a mutation that writes the session before the response: the next operation sees it', async () => {
    const first = await gql(app, 'mutation { visit }');
    expect(first.body).toEqual({ data: { visit: 1 } });
    let current = sessionCookieOf(first);
    const second = await gql(app, 'mutation { visit }', current);
    // Server-side the cookie stays; client-side the sealed data is sent again.
    const resent = setCookieOf(second);
    if (resent) current = `${resent.name}=${resent.value}`;
    expect(second.body).toEqual({ data: { visit: 2 } });
    expect((await gql(app, '{ visits }', current)).body).toEqual({ data: { visits: 2 } });
  });

  it('a logout mutation ends the session: the next operation is anonymous', async () => {
    const cookie = await signIn();
    const out = await gql(app, 'mutation { logout }', cookie);
    expect(out.body).toEqual({ data: { logout: true } });
    expect(errorCodes((await gql(app, '{ me { id } }', cookie)).body as GraphqlBody)).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses a mutation a cross-site page sent (csrf), and lets the same-origin one and cross-site queries through', async () => {
    const cookie = await signIn();
    const crossSite = await gql(app, 'mutation { visit }', cookie, { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' });
    const body = crossSite.body as GraphqlBody;
    expect(errorCodes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors?.[0]?.message).toBe('Cross-site request refused');

    const query = await gql(app, '{ visits }', cookie, { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' });
    expect((query.body as GraphqlBody).errors).toBeUndefined();

    const host = `127.0.0.1`;
    const sameOrigin = await gql(app, 'mutation { visit }', cookie, { Host: host, Origin: `http://${host}`, 'Sec-Fetch-Site': 'same-origin' });
    expect((sameOrigin.body as GraphqlBody).errors).toBeUndefined();
  });

  it('never runs a mutation sent with GET', async () => {
    const cookie = await signIn();
    const res = await request(app.getHttpServer() as App)
      .get('/graphql')
      .query({ query: 'mutation { visit }' })
      .set('Cookie', cookie)
      .set('Accept', 'application/json')
      .set('apollo-require-preflight', 'true');
    // Apollo and Mercurius refuse it themselves (405 or an error); the csrf guard refuses it too
    // (cross-site-request.guard.spec.ts calls the guard directly).
    const body = res.body as GraphqlBody;
    expect(body.data?.visit).toBeUndefined();
    expect((await gql(app, '{ visits }', cookie)).body).toEqual({ data: { visits: 0 } });
  });
});

describe(`GraphQL resolvers on ${HTTP_PLATFORM} when the store fails`, () => {
  let app: INestApplication;
  const store = new FailingStore(new MemoryStore());

  beforeAll(async () => {
    app = await bootGraphql({ store });
  });

  afterAll(async () => {
    await app.close();
  });

  afterEach(() => store.recover());

  it('answers 503 (or a SESSION_STORE_UNAVAILABLE error) when the session cannot be loaded: never an anonymous user', async () => {
    const login = await gql(app, 'mutation { login(id: "alice", admin: false) }');
    const cookie = sessionCookieOf(login);
    store.goDown(['get']);
    const res = await gql(app, '{ me { id } }', cookie);
    // Apollo on Express: the session middleware's 503. Mercurius: its error handler reports the
    // same exception as a GraphQL error with its code. Either way, no data and no anonymous user.
    if (HTTP_PLATFORM === 'express') {
      expect(res.status).toBe(503);
      expect(JSON.stringify(res.body)).toContain('Session store unavailable');
    } else {
      expect(res.body).toEqual({
        data: null,
        errors: [{ message: 'Session store unavailable, please retry shortly', extensions: { code: 'SESSION_STORE_UNAVAILABLE' } }],
      });
    }
  });

  it('gives SESSION_STORE_UNAVAILABLE when a store call of a resolver fails', async () => {
    store.goDown(['set', 'update', 'destroy']);
    const res = await gql(app, 'mutation { login(id: "alice", admin: false) }');
    const codes = errorCodes(res.body as GraphqlBody);
    // The resolver's own call fails (503 code in the error) or, if the write is deferred to
    // the commit, the whole response becomes a 503: never a signed-in answer that was not kept.
    if (res.status === 200) expect(codes).toEqual(['SESSION_STORE_UNAVAILABLE']);
    else expect(res.status).toBe(503);
    expect(setCookieOf(res)).toBeUndefined();
  });
});

import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createConnection } from 'mysql2/promise';
import { Pool } from 'pg';
import { createClient, createCluster } from 'redis';
import request from 'supertest';
import type { Response } from 'supertest';
import { SessionService } from '@app/session';
import { loadExampleConfig, type ExampleConfig, type ExampleStoreConfig } from '../../apps/example/src/config/example-config';
import { parseSetCookie, setCookieHeadersOf, SESSION_COOKIE } from '../support/cookies';
import { createExampleApp, EXAMPLE_TEST_NAME_PREFIX, TEST_SECRET } from '../support/example-app';

/**
 * Several instances of the example app, each its own Nest app with its own store clients, each
 * listening on its own loopback port, and browsers that talk to them over real HTTP: what a load
 * balancer in front of a fleet does, sending each request of one browser to any instance.
 */

export const ALICE = { username: 'alice', password: 'alice-password' } as const;
export const ADMIN = { username: 'admin', password: 'admin-password' } as const;
const JSON_ACCEPT = 'application/json';

/**
 * A name for this run's keys or table: under the example suites' prefix (so the global teardown
 * removes it too, should an afterAll not get to), unique to this file and run. A plain SQL
 * identifier of at most 63 characters.
 */
export function runName(label: string): string {
  const run = process.env.EXAMPLE_E2E_RUN ?? 'local';
  return `${EXAMPLE_TEST_NAME_PREFIX}${run}_${label}_${Math.random().toString(36).slice(2, 8)}`.slice(0, 63);
}

/** One running instance of the example app. */
export interface Instance {
  readonly name: string;
  readonly app: INestApplication;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly config: ExampleConfig;
  close(): Promise<void>;
}

/**
 * The example's configuration from environment variables, as `main.ts` reads it, on top of the
 * test defaults (test secret, throttling out of the way).
 */
export function exampleConfig(env: NodeJS.ProcessEnv): ExampleConfig {
  return loadExampleConfig({
    SESSION_SECRET: TEST_SECRET,
    LOGIN_ATTEMPTS_PER_ACCOUNT: '1000000',
    LOGIN_ATTEMPTS_PER_CLIENT: '1000000',
    ...env,
  });
}

/** Starts one instance with this configuration, listening on a free port on 127.0.0.1. */
export async function startInstance(name: string, config: ExampleConfig): Promise<Instance> {
  const app = await createExampleApp(config);
  try {
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close();
    throw error;
  }
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  let closed = false;
  return {
    name,
    app,
    url: `http://127.0.0.1:${port}`,
    config,
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
    },
  };
}

/** Starts instances one after the other (A, B, C, ...) with the same configuration. */
export async function startInstances(names: readonly string[], config: ExampleConfig): Promise<Instance[]> {
  const started: Instance[] = [];
  try {
    for (const name of names) started.push(await startInstance(name, config));
  } catch (error) {
    await closeAll(started);
    throw error;
  }
  return started;
}

/** Closes every instance, even when one fails to; rethrows the first failure. */
export async function closeAll(instances: ReadonlyArray<Instance | undefined>): Promise<void> {
  const running = instances.filter((instance): instance is Instance => instance !== undefined);
  const results = await Promise.allSettled(running.map((instance) => instance.close()));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Starts instances A, B and C of the example before the enclosing describe's tests, and closes
 * them after, then runs `cleanUp` (keys, tables) even if closing failed. The config may be made
 * in the beforeAll (a cluster's nodes are only known once it runs). Returns the instances.
 */
export function startsInstances(
  config: ExampleConfig | (() => ExampleConfig),
  cleanUp: () => Promise<void> = () => Promise.resolve(),
): () => Instance[] {
  let instances: Instance[] = [];
  beforeAll(async () => {
    instances = await startInstances(['A', 'B', 'C'], typeof config === 'function' ? config() : config);
  });
  afterAll(async () => {
    try {
      await closeAll(instances);
    } finally {
      await cleanUp();
    }
  });
  return () => instances;
}

/**
 * One browser: keeps the session cookie the instances hand out (a new value, or a deletion) and
 * sends it with every request, whichever instance that goes to.
 */
export class Browser {
  /** `sid=<value>`, or undefined while the browser holds no session cookie. */
  cookie: string | undefined;

  constructor(readonly userAgent: string) {}

  async send(instance: Instance, method: 'get' | 'post', path: string, body?: object): Promise<Response> {
    const req = request(instance.url)[method](path).set('Accept', JSON_ACCEPT).set('User-Agent', this.userAgent);
    if (this.cookie !== undefined) req.set('Cookie', this.cookie);
    const res = body === undefined ? await req : await req.send(body);
    this.#keep(res);
    return res;
  }

  /** Applies the response's Set-Cookie for the session cookie, as a browser does. */
  #keep(res: Response): void {
    for (const cookie of setCookieHeadersOf(res).map(parseSetCookie)) {
      if (cookie.name !== SESSION_COOKIE) continue;
      const expires = cookie.attributes.get('expires');
      const deleted =
        cookie.value === '' || cookie.attributes.get('max-age') === '0' || (typeof expires === 'string' && Date.parse(expires) <= Date.now());
      this.cookie = deleted ? undefined : `${cookie.name}=${cookie.value}`;
    }
  }

  async login(instance: Instance, credentials: { username: string; password: string } = ALICE): Promise<void> {
    const res = await this.send(instance, 'post', '/login', credentials);
    expect({ on: instance.name, status: res.status }).toEqual({ on: instance.name, status: 200 });
    expect(this.cookie).toBeDefined();
  }

  /** GET /me: the status, and the username when signed in. */
  async whoAmI(instance: Instance): Promise<{ on: string; status: number; username?: string }> {
    const res = await this.send(instance, 'get', '/me');
    if (res.status >= 500) throw new Error(`${instance.name} answered ${res.status} to GET /me: ${res.text}`);
    const body = res.body as { username?: string } | undefined;
    return res.status === 200 ? { on: instance.name, status: 200, username: body?.username } : { on: instance.name, status: res.status };
  }

  /** Asserts GET /me on `instance` answers 200 as `username`. */
  async shouldBeSignedInOn(instance: Instance, username: string = ALICE.username): Promise<void> {
    expect(await this.whoAmI(instance)).toEqual({ on: instance.name, status: 200, username });
  }

  /** Asserts GET /me on `instance` answers 401 (anonymous; never a 5xx). */
  async shouldBeAnonymousOn(instance: Instance): Promise<void> {
    expect(await this.whoAmI(instance)).toEqual({ on: instance.name, status: 401 });
  }

  /** POST /visits: the counter after the increment. */
  async visit(instance: Instance): Promise<number> {
    const res = await this.send(instance, 'post', '/visits');
    expect({ on: instance.name, status: res.status }).toEqual({ on: instance.name, status: 200 });
    return (res.body as { visits: number }).visits;
  }

  async logout(instance: Instance): Promise<void> {
    const res = await this.send(instance, 'post', '/logout');
    expect({ on: instance.name, status: res.status }).toEqual({ on: instance.name, status: 204 });
  }

  /** A copy of this browser with the same cookie: an attacker's replay, or a second tab. */
  copy(userAgent = this.userAgent): Browser {
    const other = new Browser(userAgent);
    other.cookie = this.cookie;
    return other;
  }
}

/** The "Your sessions" JSON list, as an API client reads it. */
export interface ListedSession {
  readonly id: string;
  readonly userAgent: string | null;
  readonly current: boolean;
}

/** The SessionService of one instance (its own store clients). */
export function sessionsOf(instance: Instance): SessionService {
  return instance.app.get(SessionService, { strict: false });
}

/** Where the instances of a scenario keep their sessions, and how to clean it up. */
export interface SharedStore {
  readonly config: ExampleStoreConfig;
  /** Removes what the run created (keys or table). Called after every instance closed. */
  cleanup(): Promise<void>;
}

/** Deletes every key under `prefix` on one Redis server (SCAN + DEL). */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const client = createClient({ url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.del(keys);
    }
  } finally {
    await client.close();
  }
}

/** Deletes every key under `prefix` on every master of a cluster. */
export async function deleteClusterKeys(rootUrls: readonly string[], prefix: string): Promise<void> {
  const cluster = createCluster({ rootNodes: rootUrls.map((url) => ({ url })) });
  cluster.on('error', () => undefined);
  await cluster.connect();
  try {
    for (const master of cluster.masters) {
      const client = await cluster.nodeClient(master);
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
        // One DEL per key: keys in one DEL must share a slot.
        await Promise.all(keys.map((key) => client.del(key)));
      }
    }
  } finally {
    await cluster.close();
  }
}

export async function dropMysqlTable(mysqlUrl: string, table: string): Promise<void> {
  const connection = await createConnection({ uri: mysqlUrl, connectTimeout: 2_000 });
  try {
    await connection.query(`DROP TABLE IF EXISTS \`${table}\``);
  } finally {
    await connection.end();
  }
}

export async function dropPostgresTable(databaseUrl: string, table: string): Promise<void> {
  const pool = new Pool({ connectionString: databaseUrl, connectionTimeoutMillis: 2_000, max: 1 });
  try {
    await pool.query(`DROP TABLE IF EXISTS "${table}"`);
  } finally {
    await pool.end();
  }
}

/**
 * The several-instances scenario, against instances sharing one store: a login, a write, a
 * logout and a revocation on one instance are what every other instance serves on the very next
 * request (asserted at once, no waiting), and any instance lists the sessions signed in on all.
 * `instances()` returns A, B and C, started by the caller's beforeAll. With `listsSessions: false`
 * (memcached), the per-user parts are replaced by a check that every instance says it cannot.
 */
export function runSeveralInstancesScenario(instances: () => readonly Instance[], { listsSessions = true } = {}): void {
  /** Signs alice out everywhere, so each test sees only its own sessions in her list. */
  async function freshAlice(): Promise<void> {
    await sessionsOf(instances()[0]).revokeAllForUser(ALICE.username);
  }

  it('a login on A is recognised on B and C, request after request', async () => {
    const [a, b, c] = instances();
    const browser = new Browser('login-on-A');
    await browser.login(a);
    for (let round = 0; round < 5; round++) {
      for (const instance of [b, c, a]) await browser.shouldBeSignedInOn(instance);
    }
  });

  it('a write on B is read on A and on C at once, and writes taking turns lose nothing', async () => {
    const [a, b, c] = instances();
    const browser = new Browser('writes');
    await browser.login(a);
    await browser.shouldBeSignedInOn(b);
    await browser.shouldBeSignedInOn(c);
    expect(await browser.visit(b)).toBe(1);
    expect(await browser.visit(a)).toBe(2);
    expect(await browser.visit(c)).toBe(3);
    for (let visit = 4; visit <= 30; visit++) expect(await browser.visit([a, b, c][visit % 3])).toBe(visit);
  });

  it('a logout on A is seen at once on B and C, which had just served the session', async () => {
    const [a, b, c] = instances();
    for (let round = 0; round < 5; round++) {
      const browser = new Browser(`logout-round-${round}`);
      await browser.login(a);
      await browser.shouldBeSignedInOn(b);
      await browser.shouldBeSignedInOn(b);
      await browser.shouldBeSignedInOn(c);
      const replay = browser.copy();
      await browser.logout(a);
      expect(browser.cookie).toBeUndefined();
      // The old cookie, replayed: the session is gone on every instance.
      await replay.shouldBeAnonymousOn(b);
      await replay.shouldBeAnonymousOn(c);
      await replay.shouldBeAnonymousOn(a);
    }
  });

  if (!listsSessions) {
    it('"Your sessions" and "sign out everywhere else" answer 501 on every instance, never 500', async () => {
      const browser = new Browser('no-listing');
      await browser.login(instances()[0]);
      for (const instance of instances()) {
        expect((await browser.send(instance, 'get', '/account/sessions')).status).toBe(501);
        expect((await browser.send(instance, 'post', '/account/sessions/revoke-others')).status).toBe(501);
        await browser.shouldBeSignedInOn(instance);
      }
    });
    return;
  }

  it('"sign out everywhere else" on B ends the sessions A serves, on their next request to A', async () => {
    const [a, b, c] = instances();
    await freshAlice();
    const phone = new Browser('phone');
    const laptop = new Browser('laptop');
    const desk = new Browser('desk');
    await phone.login(a);
    await laptop.login(a);
    await desk.login(b);
    await phone.shouldBeSignedInOn(a);
    await laptop.shouldBeSignedInOn(a);
    const res = await desk.send(b, 'post', '/account/sessions/revoke-others');
    expect(res.status).toBe(204);
    await phone.shouldBeAnonymousOn(a);
    await laptop.shouldBeAnonymousOn(a);
    await phone.shouldBeAnonymousOn(c);
    await desk.shouldBeSignedInOn(a);
    await desk.shouldBeSignedInOn(c);
  });

  it("SessionService.revokeAllForUser on B signs the user out of every instance's sessions", async () => {
    const [a, b, c] = instances();
    await freshAlice();
    const browsers = [new Browser('one'), new Browser('two'), new Browser('three')];
    for (const [index, browser] of browsers.entries()) await browser.login([a, b, c][index]);
    for (const browser of browsers) for (const instance of [a, b, c]) await browser.shouldBeSignedInOn(instance);
    await expect(sessionsOf(b).revokeAllForUser(ALICE.username)).resolves.toBe(3);
    for (const browser of browsers) for (const instance of [a, c, b]) await browser.shouldBeAnonymousOn(instance);
  });

  it('"Your sessions" on C lists the sessions signed in on A and on B', async () => {
    const [a, b, c] = instances();
    await freshAlice();
    const onA = new Browser('signed-in-on-A');
    const onB = new Browser('signed-in-on-B');
    await onA.login(a);
    await onB.login(b);
    const res = await onA.send(c, 'get', '/account/sessions');
    expect(res.status).toBe(200);
    const list = (res.body as ListedSession[]).map(({ userAgent, current }) => ({ userAgent, current }));
    expect(list).toEqual([
      { userAgent: 'signed-in-on-A', current: true },
      { userAgent: 'signed-in-on-B', current: false },
    ]);
    // The same list from B's side, and a sign-out of A's device from there is seen on A and C.
    const fromB = await onB.send(b, 'get', '/account/sessions');
    const other = (fromB.body as ListedSession[]).find((entry) => !entry.current)!;
    expect(other.userAgent).toBe('signed-in-on-A');
    expect((await onB.send(b, 'post', `/account/sessions/${encodeURIComponent(other.id)}/revoke`)).status).toBe(204);
    await onA.shouldBeAnonymousOn(a);
    await onA.shouldBeAnonymousOn(c);
    await onB.shouldBeSignedInOn(c);
  });
}

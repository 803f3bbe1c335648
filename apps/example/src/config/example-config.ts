/**
 * A server-side store the example can open: the library's own, or an express-session store
 * through `ExpressSessionStore` (`connect-redis`, `connect-pg-simple`: what an app moving from
 * express-session already runs).
 */
export type ExampleStoreKind = 'memory' | 'redis' | 'postgres' | 'mysql' | 'memcached' | 'connect-redis' | 'connect-pg-simple';

/** Where the example keeps its sessions (`SESSION_STORE`): a store, or `cookie` (client-side). */
export type ExampleSessionMode = ExampleStoreKind | 'cookie';

/** The session store settings of the example. */
export interface ExampleStoreConfig {
  /** `SESSION_STORE`. */
  readonly mode: ExampleSessionMode;
  /** The store to open: `SESSION_STORE`, or with `cookie` the revocation list's (`REVOCATION_STORE`). */
  readonly kind: ExampleStoreKind;
  /** `REDIS_URL`. */
  readonly redisUrl: string;
  /**
   * `REDIS_CLUSTER_NODES`: `host:port` of one or more nodes of a Redis Cluster (comma-separated).
   * When given, the Redis store talks to that cluster (`createCluster`), and `REDIS_URL` is unused.
   */
  readonly redisClusterNodes: readonly string[];
  /** `DATABASE_URL` (PostgreSQL). */
  readonly databaseUrl: string;
  /** `MYSQL_URL` (MariaDB or MySQL). */
  readonly mysqlUrl: string;
  /** `MEMCACHED_URL` (`host:port`). */
  readonly memcachedUrl: string;
  /** `SESSION_TABLE`: table of the SQL stores. */
  readonly table: string;
  /** `SESSION_KEY_PREFIX`: key prefix of Redis and memcached. */
  readonly keyPrefix: string;
}

/**
 * Configuration of the example app, read from the environment once at start by `ConfigModule`
 * (see `example-config.module.ts`) and read back with `ConfigService<ExampleConfig, true>`. Every
 * top-level entry is an object: `ConfigModule` copies top-level strings, numbers and booleans of
 * the validated configuration into `process.env`, and these are not environment variables.
 */
export interface ExampleConfig {
  readonly http: ExampleHttpConfig;
  readonly session: ExampleSessionConfig;
  readonly store: ExampleStoreConfig;
  readonly loginThrottle: LoginThrottleConfig;
}

/** The Nest HTTP platform the example runs on (`HTTP_PLATFORM`). */
export type ExampleHttpPlatform = 'express' | 'fastify';

/** The HTTP server (`HTTP_PLATFORM`, `PORT`, `TRUST_PROXY`). */
export interface ExampleHttpConfig {
  readonly platform: ExampleHttpPlatform;
  readonly port: number;
  /** Behind a reverse proxy: client address and protocol from `X-Forwarded-*`. */
  readonly trustProxy: boolean;
}

/** The session cookie (`SESSION_SECRET`, `NODE_ENV`). */
export interface ExampleSessionConfig {
  /** Session secrets, newest first. */
  readonly secrets: readonly string[];
  /** `NODE_ENV=production`: a `__Host-` cookie, always `Secure`, and the demo secret refused. */
  readonly production: boolean;
}

/** Login throttling (`LOGIN_ATTEMPTS_PER_ACCOUNT`, `LOGIN_ATTEMPTS_PER_CLIENT`, `LOGIN_ATTEMPT_WINDOW`). */
export interface LoginThrottleConfig {
  /** Login attempts allowed per username per window. */
  readonly perAccount: number;
  /** Login attempts allowed per client address per window. */
  readonly perClient: number;
  /** The window, and how long a client or account stays blocked once over, in ms. */
  readonly windowMs: number;
}

const HTTP_PLATFORMS: readonly ExampleHttpPlatform[] = ['express', 'fastify'];
const STORE_KINDS: readonly ExampleStoreKind[] = ['memory', 'redis', 'postgres', 'mysql', 'memcached', 'connect-redis', 'connect-pg-simple'];
const SESSION_MODES: readonly ExampleSessionMode[] = [...STORE_KINDS, 'cookie'];

/**
 * DEMO-ONLY secret so the example starts with no set-up. It is public (it is in this repository),
 * so anyone could forge cookies for an app using it: `loadExampleConfig` refuses it when
 * NODE_ENV=production.
 */
export const DEMO_SESSION_SECRET = 'demo-only-secret-never-use-in-production-0123456789abcdef';

/** Thrown when the environment is invalid; lists every problem. */
export class ExampleConfigError extends Error {
  declare readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid environment:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ExampleConfigError';
    // What the operator needs is the list, not where in the example it was found: Nest logs the
    // error as it fails to start, and a stack trace (or the list printed twice) would bury it.
    this.stack = `${this.name}: ${this.message}`;
    Object.defineProperty(this, 'problems', { value: problems, enumerable: false });
  }
}

/**
 * Reads `HTTP_PLATFORM` (express | fastify, default express), `PORT` (default 3000), `SESSION_SECRET` (one or more secrets separated by spaces, newest
 * first; a demo default outside production), `TRUST_PROXY` (true/false, default false) and the
 * store settings: `SESSION_STORE` (memory | redis | postgres | mysql | memcached | connect-redis |
 * connect-pg-simple | cookie, default memory; the two connect-* are express-session stores; `cookie` seals the session in the cookie, with `REVOCATION_STORE` for the revocation list),
 * `REDIS_URL`, `DATABASE_URL`, `MYSQL_URL`, `MEMCACHED_URL` (defaults: the standard ports on
 * 127.0.0.1), `REDIS_CLUSTER_NODES` (`host:port,host:port,...`: use a Redis Cluster instead of
 * `REDIS_URL`), `SESSION_TABLE` (default sessions), `SESSION_KEY_PREFIX` (default sess:) and the
 * login throttle (`LOGIN_ATTEMPTS_PER_ACCOUNT`, `LOGIN_ATTEMPTS_PER_CLIENT`, `LOGIN_ATTEMPT_WINDOW`).
 *
 * `ConfigModule.forRoot`'s `validate` function: it throws one {@link ExampleConfigError} listing
 * every problem, so a misconfigured deployment is fixed in one round, not one variable per start.
 */
export function loadExampleConfig(env: Readonly<Record<string, string | undefined>>): ExampleConfig {
  const problems: string[] = [];
  const production = env.NODE_ENV === 'production';

  const rawPort = env.PORT?.trim() || '3000';
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port < 0 || port > 65535) {
    problems.push(`PORT: must be a port number between 0 and 65535 (got "${rawPort}")`);
  }

  const rawSecret = env.SESSION_SECRET?.trim();
  const sessionSecrets = rawSecret ? rawSecret.split(/\s+/) : [DEMO_SESSION_SECRET];
  if (production && sessionSecrets.includes(DEMO_SESSION_SECRET)) {
    problems.push(
      'SESSION_SECRET: the demo secret is public and refused when NODE_ENV=production; ' +
        'set SESSION_SECRET to a random value of at least 32 bytes (e.g. `openssl rand -base64 48`)',
    );
  }

  const platform = (env.HTTP_PLATFORM?.trim() || 'express') as ExampleHttpPlatform;
  if (!HTTP_PLATFORMS.includes(platform)) {
    problems.push(`HTTP_PLATFORM: must be one of ${HTTP_PLATFORMS.join(', ')} (got "${env.HTTP_PLATFORM}")`);
  }

  const rawTrustProxy = (env.TRUST_PROXY ?? 'false').trim().toLowerCase();
  const trustProxy = ['1', 'true', 'yes'].includes(rawTrustProxy);
  if (!trustProxy && !['0', 'false', 'no', ''].includes(rawTrustProxy)) {
    problems.push(`TRUST_PROXY: must be true or false (got "${env.TRUST_PROXY}")`);
  }

  const mode = (env.SESSION_STORE?.trim() || 'memory') as ExampleSessionMode;
  if (!SESSION_MODES.includes(mode)) {
    problems.push(`SESSION_STORE: must be one of ${SESSION_MODES.join(', ')} (got "${env.SESSION_STORE}")`);
  }
  const revocationKind = (env.REVOCATION_STORE?.trim() || 'memory') as ExampleStoreKind;
  if (!STORE_KINDS.includes(revocationKind)) {
    problems.push(`REVOCATION_STORE: must be one of ${STORE_KINDS.join(', ')} (got "${env.REVOCATION_STORE}")`);
  }
  const kind = mode === 'cookie' ? revocationKind : mode;
  const table = env.SESSION_TABLE?.trim() || 'sessions';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) {
    problems.push(`SESSION_TABLE: must be a plain SQL identifier (letters, digits, _) (got "${table}")`);
  }
  // connect-pg-simple's table is SESSION_TABLE + '_express_session' (16 characters more), within PostgreSQL's 63.
  if (kind === 'connect-pg-simple' && table.length > 47) {
    problems.push(`SESSION_TABLE: at most 47 characters with SESSION_STORE=connect-pg-simple (its table is "${table}_express_session")`);
  }
  const redisClusterNodes = clusterNodes(env.REDIS_CLUSTER_NODES, problems);
  const store: ExampleStoreConfig = {
    mode,
    kind,
    redisUrl: env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379',
    redisClusterNodes,
    databaseUrl: env.DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/test',
    mysqlUrl: env.MYSQL_URL?.trim() || 'mysql://root@127.0.0.1:3306/test',
    memcachedUrl: env.MEMCACHED_URL?.trim() || '127.0.0.1:11211',
    table,
    keyPrefix: env.SESSION_KEY_PREFIX ?? 'sess:',
  };

  const loginThrottle: LoginThrottleConfig = {
    perAccount: positiveInteger('LOGIN_ATTEMPTS_PER_ACCOUNT', env.LOGIN_ATTEMPTS_PER_ACCOUNT, 5, problems),
    perClient: positiveInteger('LOGIN_ATTEMPTS_PER_CLIENT', env.LOGIN_ATTEMPTS_PER_CLIENT, 20, problems),
    windowMs: positiveInteger('LOGIN_ATTEMPT_WINDOW', env.LOGIN_ATTEMPT_WINDOW, 60_000, problems),
  };

  if (problems.length > 0) throw new ExampleConfigError(problems);
  return { http: { platform, port, trustProxy }, session: { secrets: sessionSecrets, production }, store, loginThrottle };
}

/** `REDIS_CLUSTER_NODES`: comma-separated `host:port` entries (IPv6 hosts in brackets). */
function clusterNodes(raw: string | undefined, problems: string[]): string[] {
  if (raw === undefined || raw.trim() === '') return [];
  const nodes = raw.split(',').map((entry) => entry.trim());
  const bad = nodes.filter((node) => {
    const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(node);
    return !match || Number(match[2]) < 1 || Number(match[2]) > 65535;
  });
  if (bad.length > 0) {
    problems.push(`REDIS_CLUSTER_NODES: must be a comma-separated list of host:port (got ${bad.map((node) => `"${node}"`).join(', ')})`);
  }
  return nodes;
}

function positiveInteger(name: string, raw: string | undefined, fallback: number, problems: string[]): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    problems.push(`${name}: must be a positive whole number (got "${raw}")`);
    return fallback;
  }
  return value;
}

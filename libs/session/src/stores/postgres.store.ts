import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { SessionConfigError, SessionStoreError, toSessionStoreError } from '../core/errors';
import type { SessionPatch, SessionRecord, SessionStore } from '../core/session-store';
import { cleanupIntervalProblem, DEFAULT_CLEANUP_INTERVAL, ExpiredSessionSweeper } from './expired-session-sweeper';
import { checkOperationTimeout, withOperationTimeout } from './operation-timeout';

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /**
   * The `pg` pool the application created. The store borrows one connection per operation and
   * never ends the pool: closing it stays the application's job, after the Nest app is closed.
   * The application must also listen for the pool's `'error'` event (`pool.on('error', ...)`):
   * pg emits it when an idle connection drops, and an unhandled `'error'` ends the process.
   */
  pool: Pool;
  /**
   * The table sessions live in: a plain identifier (`sessions`) or a schema-qualified one
   * (`auth.sessions`), letters, digits and `_` only, not starting with a digit; the table part at
   * most 48 characters (so `<table>_expires_at_idx` fits PostgreSQL's 63-byte identifier limit).
   * Used exactly as written: it is quoted, so it is case-sensitive. Anything else is refused at
   * construction, since the name is the only part of the SQL that cannot be a parameter.
   * @default 'sessions'
   */
  tableName?: string;
  /**
   * Longest one operation may take, in ms, waiting for a pool connection included. Past it the
   * operation rejects with a {@link SessionStoreError} (the request answers 503) and the
   * connection it was using is dropped rather than returned to the pool.
   * @default 2000
   */
  operationTimeout?: number;
  /**
   * How often this store deletes expired rows, in ms, or `false` to never do it (run
   * {@link PostgresStore.deleteExpired} from your own scheduler instead, e.g. pg_cron or a job
   * runner, which spares several app instances from each sweeping the table). Expired rows are
   * never returned whatever this is: the sweep only reclaims space. The timer does not keep the
   * process alive and `close()` stops it.
   * @default 900_000 (15 minutes)
   */
  cleanupInterval?: number | false;
  /**
   * Called when a background sweep fails (the database is away: the next sweep tries again).
   * @default logs the error with console.warn
   */
  onCleanupError?: (error: SessionStoreError) => void;
  /** Milliseconds since the epoch: what "expired" is measured against. @default Date.now */
  clock?: () => number;
}

/** Default of {@link PostgresStoreOptions.cleanupInterval}: 15 minutes. */
export const DEFAULT_POSTGRES_CLEANUP_INTERVAL = DEFAULT_CLEANUP_INTERVAL;

const DEFAULT_TABLE_NAME = 'sessions';
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const INDEX_SUFFIX = '_expires_at_idx';
const MAX_IDENTIFIER_LENGTH = 63;
// Rows deleted per statement by deleteExpired: each statement stays short (well inside the
// operation timeout, few row locks held) even when months of expired sessions piled up.
const DELETE_BATCH_SIZE = 5_000;

interface TableNames {
  /** `"schema"."table"` or `"table"`. */
  readonly table: string;
  /** `"table_expires_at_idx"` (an index lives in its table's schema, so it is never qualified). */
  readonly index: string;
}

/** The reasons `tableName` is refused, empty when it is a safe identifier. */
function tableNameProblems(tableName: unknown): string[] {
  if (typeof tableName !== 'string') return [`tableName: must be a string (got ${typeof tableName})`];
  const parts = tableName.split('.');
  const valid =
    parts.length <= 2 &&
    parts.every((part) => IDENTIFIER.test(part) && part.length <= MAX_IDENTIFIER_LENGTH) &&
    parts[parts.length - 1].length + INDEX_SUFFIX.length <= MAX_IDENTIFIER_LENGTH;
  if (valid) return [];
  return [
    `tableName: must be "table" or "schema.table", each part letters, digits and _ not starting with a digit, ` +
      `the table at most ${MAX_IDENTIFIER_LENGTH - INDEX_SUFFIX.length} characters (got ${JSON.stringify(tableName)})`,
  ];
}

/** Quoted identifiers for a `tableName` that passed {@link tableNameProblems}. */
function quoteTableName(tableName: string): TableNames {
  const parts = tableName.split('.');
  // Validation allows no `"` in a part, so wrapping each part in quotes is a complete quoting.
  return {
    table: parts.map((part) => `"${part}"`).join('.'),
    index: `"${parts[parts.length - 1]}${INDEX_SUFFIX}"`,
  };
}

function schemaSql({ table, index }: TableNames): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (`,
    `  key TEXT PRIMARY KEY,`,
    `  data JSONB NOT NULL,`,
    `  created_at BIGINT NOT NULL,`,
    `  touched_at BIGINT NOT NULL,`,
    `  expires_at BIGINT NOT NULL,`,
    `  cookie_max_age BIGINT`,
    `);`,
    `CREATE INDEX IF NOT EXISTS ${index} ON ${table} (expires_at);`,
  ].join('\n');
}

/**
 * The SQL that creates the table {@link PostgresStore} uses (and the index its expiry sweep
 * needs), for your migrations. Idempotent (`IF NOT EXISTS`). Timestamps are ms since the epoch;
 * `key` is the SHA-256 of the session id, never the id itself.
 *
 * @throws SessionConfigError when `tableName` is not a safe identifier (see
 *   {@link PostgresStoreOptions.tableName}).
 * @example
 * // migrations/001_sessions.ts
 * await sql.unsafe(renderPostgresSchema('auth.sessions'));
 */
export function renderPostgresSchema(tableName: string = DEFAULT_TABLE_NAME): string {
  const problems = tableNameProblems(tableName);
  if (problems.length > 0) throw new SessionConfigError(problems.map((problem) => `PostgresStore ${problem}`));
  return schemaSql(quoteTableName(tableName));
}

/** {@link renderPostgresSchema} for the default table name, `sessions`. */
export const POSTGRES_SCHEMA: string = renderPostgresSchema();

// --- Data encoding --------------------------------------------------------------------------
//
// JSONB cannot hold every string JavaScript can: it refuses `\u0000` (its text type has no NUL)
// and lone UTF-16 surrogates. Such strings, values and keys alike, are stored as MARKER followed
// by their JSON text (which spells those characters as escapes), and so is any string that
// itself starts with MARKER, so decoding is unambiguous. Every other string is stored as is, and
// documents without any MARKER skip the decoding walk. Keys are encoded the same way wherever they
// appear, so `data - keys || changes` in `update` still matches them.

const MARKER = '\u0001';
// What JSON.stringify writes for NUL, for MARKER and for a lone surrogate. A match may be a false
// alarm (the text "\u0000" typed by a user), which only costs the slower, exact walk.
const MAY_NEED_ENCODING = /\\u(?:000[01]|d[89a-f])/;
// How PostgreSQL writes MARKER in JSONB's text output.
const MARKER_IN_OUTPUT = '\\u0001';

function needsEncoding(text: string): boolean {
  return text.startsWith(MARKER) || text.includes('\u0000') || !text.isWellFormed();
}

function encodeString(text: string): string {
  return needsEncoding(text) ? MARKER + JSON.stringify(text) : text;
}

function decodeString(text: string): string {
  return text.startsWith(MARKER) ? (JSON.parse(text.slice(MARKER.length)) as string) : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Renames the keys of `value` with `rename` when one of them needs it (fromEntries keeps `__proto__` a plain key). */
function renameKeys(value: Record<string, unknown>, rename: (key: string) => string): Record<string, unknown> {
  const keys = Object.keys(value);
  if (keys.every((key) => rename(key) === key)) return value;
  return Object.fromEntries(keys.map((key) => [rename(key), value[key]]));
}

function encodeReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return encodeString(value);
  return isPlainObject(value) ? renameKeys(value, encodeString) : value;
}

function decodeReviver(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return decodeString(value);
  return isPlainObject(value) ? renameKeys(value, decodeString) : value;
}

/** JSON text of `value` that `::jsonb` accepts, for a query parameter. */
function toJsonb(value: unknown): string {
  const json = JSON.stringify(value);
  return MAY_NEED_ENCODING.test(json) ? JSON.stringify(value, encodeReplacer) : json;
}

/** The data object back from JSONB's text output. */
function fromJsonb(text: string): Record<string, unknown> {
  return (text.includes(MARKER_IN_OUTPUT) ? JSON.parse(text, decodeReviver) : JSON.parse(text)) as Record<string, unknown>;
}

// --- The store ------------------------------------------------------------------------------

/** A BIGINT as pg hands it back: a string by default, a number or bigint with a custom parser. */
type BigIntValue = string | number | bigint;

interface SessionRow extends QueryResultRow {
  data: string;
  created_at: BigIntValue;
  touched_at: BigIntValue;
  expires_at: BigIntValue;
  cookie_max_age: BigIntValue | null;
}

/** Milliseconds for a BIGINT column: whole numbers (a fraction of a millisecond carries nothing). */
function toBigIntParam(ms: number): number {
  return Math.round(ms);
}

/**
 * Keeps sessions in a PostgreSQL table, through a `pg` pool the application created: one row per
 * session, the data as JSONB. Every operation is one statement (one round trip), bounded by
 * `operationTimeout`; `update` merges the changed keys inside PostgreSQL under the row lock, so
 * concurrent requests never lose each other's keys.
 *
 * Create the table with {@link PostgresStore.createTable} at boot, or put
 * {@link renderPostgresSchema}'s SQL in your migrations.
 *
 * @example
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 2_000 });
 * pool.on('error', (error) => logger.warn(`idle PostgreSQL connection lost: ${error.message}`));
 * const store = new PostgresStore({ pool });
 * await store.createTable();
 * SessionModule.forRoot({ secret, store });
 */
export class PostgresStore implements SessionStore {
  readonly #pool: Pool;
  readonly #tableName: string;
  readonly #timeout: number;
  readonly #clock: () => number;
  readonly #onCleanupError: (error: SessionStoreError) => void;
  readonly #sweeper: ExpiredSessionSweeper;
  readonly #sql: {
    readonly schema: string;
    readonly get: string;
    readonly set: string;
    readonly update: string;
    readonly touch: string;
    readonly destroy: string;
    readonly deleteExpired: string;
  };

  /** @throws SessionConfigError listing every invalid option. */
  constructor(options: PostgresStoreOptions) {
    if (options === null || typeof options !== 'object') {
      throw new SessionConfigError(['PostgresStore options: must be an object with at least `pool`']);
    }
    const problems: string[] = [];
    if (typeof (options.pool as Partial<Pool> | undefined)?.connect !== 'function') {
      problems.push('PostgresStore pool: required, a pg Pool (new Pool({ ... }) from "pg")');
    }
    const tableName = options.tableName ?? DEFAULT_TABLE_NAME;
    problems.push(...tableNameProblems(tableName).map((problem) => `PostgresStore ${problem}`));
    let timeout = 0;
    try {
      timeout = checkOperationTimeout('PostgresStore', options.operationTimeout);
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
    const cleanupInterval = options.cleanupInterval ?? DEFAULT_POSTGRES_CLEANUP_INTERVAL;
    const intervalProblem = cleanupIntervalProblem('PostgresStore', cleanupInterval);
    if (intervalProblem) problems.push(intervalProblem);
    if (problems.length > 0) throw new SessionConfigError(problems);

    this.#pool = options.pool;
    this.#tableName = tableName;
    this.#timeout = timeout;
    this.#clock = options.clock ?? Date.now;
    this.#onCleanupError =
      options.onCleanupError ?? ((error) => console.warn(`PostgresStore: deleting expired sessions failed: ${error.message}`));

    const names = quoteTableName(tableName);
    const t = names.table;
    const columns = 'data::text AS data, created_at, touched_at, expires_at, cookie_max_age';
    this.#sql = {
      // Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog ("duplicate key
      // value violates unique constraint pg_type_typname_nsp_index") when several instances boot
      // at once; a transaction-scoped advisory lock lets only one create at a time. The statements
      // of one simple query run in one implicit transaction, which holds the lock to the end.
      schema: `SELECT pg_advisory_xact_lock(hashtext('${t}'));\n${schemaSql(names)}`,
      get: `SELECT ${columns} FROM ${t} WHERE key = $1 AND expires_at > $2`,
      set:
        `INSERT INTO ${t} (key, data, created_at, touched_at, expires_at, cookie_max_age) ` +
        `VALUES ($1, $2::jsonb, $3, $4, $5, $6) ` +
        `ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, created_at = EXCLUDED.created_at, ` +
        `touched_at = EXCLUDED.touched_at, expires_at = EXCLUDED.expires_at, cookie_max_age = EXCLUDED.cookie_max_age`,
      // One statement: the row lock UPDATE takes makes concurrent updates of one session run one
      // after the other, each merging into what the previous one committed (READ COMMITTED
      // re-reads the row after the wait), so no writer loses another's keys. The expiry condition
      // is re-checked on that fresh row too: a session destroyed or expired meanwhile matches
      // nothing and is never brought back.
      update:
        `UPDATE ${t} SET data = (data - $2::text[]) || $3::jsonb, touched_at = $4, expires_at = $5, ` +
        `cookie_max_age = CASE WHEN $6::boolean THEN $7::bigint ELSE cookie_max_age END ` +
        `WHERE key = $1 AND expires_at > $8`,
      touch: `UPDATE ${t} SET touched_at = $2, expires_at = $3 WHERE key = $1 AND expires_at > $4`,
      destroy: `DELETE FROM ${t} WHERE key = $1`,
      // The outer expiry condition is re-checked on rows replaced meanwhile (a set() of the same
      // key), so a fresh record is never deleted for the expired one the subquery saw.
      deleteExpired:
        `DELETE FROM ${t} WHERE key IN (SELECT key FROM ${t} WHERE expires_at <= $1 LIMIT $2) AND expires_at <= $1`,
    };

    this.#sweeper = new ExpiredSessionSweeper(
      cleanupInterval,
      (shouldStop) => this.#deleteExpired(shouldStop),
      (error) => this.#reportCleanupError(toSessionStoreError('deleteExpired', error)),
    );
  }

  /** The table name as configured (unquoted). */
  get tableName(): string {
    return this.#tableName;
  }

  /**
   * Creates the table and its index when they do not exist yet ({@link renderPostgresSchema}'s
   * SQL); safe to call on every boot and from several instances at once.
   * @throws SessionStoreError when PostgreSQL refuses (no CREATE privilege) or is unreachable.
   */
  async createTable(): Promise<void> {
    await this.#query('createTable', this.#sql.schema, undefined);
  }

  async get(key: string): Promise<SessionRecord | undefined> {
    const result = await this.#query<SessionRow>('get', this.#sql.get, [key, this.#now()]);
    const row = result.rows[0];
    if (row === undefined) return undefined;
    try {
      return {
        data: fromJsonb(row.data),
        createdAt: Number(row.created_at),
        touchedAt: Number(row.touched_at),
        expiresAt: Number(row.expires_at),
        ...(row.cookie_max_age === null ? {} : { cookieMaxAge: Number(row.cookie_max_age) }),
      };
    } catch (error) {
      throw toSessionStoreError('get', error);
    }
  }

  async set(key: string, record: SessionRecord): Promise<void> {
    await this.#query('set', this.#sql.set, [
      key,
      toJsonb(record.data),
      toBigIntParam(record.createdAt),
      toBigIntParam(record.touchedAt),
      toBigIntParam(record.expiresAt),
      record.cookieMaxAge === undefined ? null : toBigIntParam(record.cookieMaxAge),
    ]);
  }

  async update(key: string, patch: SessionPatch): Promise<boolean> {
    const result = await this.#query('update', this.#sql.update, [
      key,
      patch.unset.map(encodeString),
      toJsonb(patch.set),
      toBigIntParam(patch.touchedAt),
      toBigIntParam(patch.expiresAt),
      patch.cookieMaxAge !== undefined,
      patch.cookieMaxAge == null ? null : toBigIntParam(patch.cookieMaxAge),
      this.#now(),
    ]);
    return result.rowCount === 1;
  }

  async destroy(key: string): Promise<void> {
    await this.#query('destroy', this.#sql.destroy, [key]);
  }

  async touch(key: string, record: SessionRecord): Promise<void> {
    await this.#query('touch', this.#sql.touch, [
      key,
      toBigIntParam(record.touchedAt),
      toBigIntParam(record.expiresAt),
      this.#now(),
    ]);
  }

  /**
   * Deletes every session past its `expiresAt`, in batches of 5 000 rows (one statement each, each
   * bounded by `operationTimeout`), and resolves with how many were deleted. The cleanup timer
   * calls it; call it yourself when `cleanupInterval` is `false`.
   * @throws SessionStoreError when a batch fails; the batches before it stay deleted.
   */
  deleteExpired(): Promise<number> {
    return this.#deleteExpired(() => false);
  }

  /**
   * Stops the cleanup timer and waits for a sweep in progress to stop (it stops between batches).
   * The pool stays open: it is the application's, to `end()` after the Nest app is closed.
   */
  close(): Promise<void> {
    return this.#sweeper.stop();
  }

  async #deleteExpired(shouldStop: () => boolean): Promise<number> {
    const now = this.#now();
    let deleted = 0;
    for (;;) {
      const result = await this.#query('deleteExpired', this.#sql.deleteExpired, [now, DELETE_BATCH_SIZE]);
      const count = result.rowCount ?? 0;
      deleted += count;
      // Rows expiring after `now` are left for the next sweep, so this ends even under load.
      if (count < DELETE_BATCH_SIZE || shouldStop()) return deleted;
    }
  }

  #reportCleanupError(error: SessionStoreError): void {
    try {
      this.#onCleanupError(error);
    } catch {
      // A throwing error handler must not turn a failed sweep into an unhandled rejection.
    }
  }

  #now(): number {
    return toBigIntParam(this.#clock());
  }

  /**
   * Runs one statement on a connection of the pool, bounded by the operation timeout, and wraps
   * every failure in a SessionStoreError.
   */
  async #query<R extends QueryResultRow = QueryResultRow>(
    operation: string,
    text: string,
    values: unknown[] | undefined,
  ): Promise<QueryResult<R>> {
    let client: PoolClient | undefined;
    let released = false;
    let abandoned = false;
    // Passing an error makes the pool discard the connection instead of reusing it.
    const release = (error?: Error): void => {
      if (client === undefined || released) return;
      released = true;
      client.removeListener('error', onConnectionError);
      client.release(error);
    };
    // pg emits 'error' on a client whose connection drops, as well as failing its query. The pool
    // listens only while the client is idle; a checked-out client without a listener would take
    // the process down (an uncaught 'error' event), so it has one for as long as it is ours.
    const onConnectionError = (error: Error): void => release(error);
    const run = async (): Promise<QueryResult<R>> => {
      client = await this.#pool.connect();
      client.on('error', onConnectionError);
      if (abandoned) {
        // The caller already got its timeout (and maybe a 503): a write it gave up on must not
        // land later behind its back, so the statement is never sent.
        release();
        throw new SessionStoreError(`Session store ${operation} abandoned after its timeout`);
      }
      try {
        const result = await client.query<R>(text, values);
        release();
        return result;
      } catch (error) {
        release(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    };
    try {
      return await withOperationTimeout(operation, this.#timeout, run);
    } catch (error) {
      abandoned = true;
      // Still running on a connection that stopped answering: drop that connection, so a server
      // that went silent does not hold a pool slot until TCP gives up (minutes).
      release(new Error(`Session store ${operation} timed out`));
      throw toSessionStoreError(operation, error);
    }
  }
}

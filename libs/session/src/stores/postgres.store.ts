import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { SessionConfigError, type SessionStoreError, toSessionStoreError } from '../core/errors';
import { checkSessionOwner } from '../core/session-owner';
import type { SessionOwner, SessionPatch, SessionRecord, SessionStore, StoredSession } from '../core/session-store';
import { cleanupIntervalProblem, DEFAULT_CLEANUP_INTERVAL, ExpiredSessionSweeper } from './expired-session-sweeper';
import { checkPatchRevision, SerializedUpdates } from './serialized-updates';
import { readOperationTimeout, OperationTimeoutError, withOperationTimeout } from './operation-timeout';

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
   * most 48 characters (so its index names, `<table>_expires_at_idx` and `<table>_user_id_idx`,
   * fit PostgreSQL's 63-byte identifier limit).
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
const EXPIRES_AT_INDEX_SUFFIX = '_expires_at_idx';
const USER_ID_INDEX_SUFFIX = '_user_id_idx';
const MAX_IDENTIFIER_LENGTH = 63;
// Index names are `<table><suffix>`: the table part leaves room for the longest suffix. PostgreSQL
// would silently truncate a longer name, and `IF NOT EXISTS` would then look for the wrong one.
// New suffixes must stay within this length: a shorter table limit would refuse existing names.
const MAX_TABLE_PART_LENGTH =
  MAX_IDENTIFIER_LENGTH - Math.max(EXPIRES_AT_INDEX_SUFFIX.length, USER_ID_INDEX_SUFFIX.length);
// Rows deleted per statement by deleteExpired: each statement stays short (well inside the
// operation timeout, few row locks held) even when months of expired sessions piled up.
const DELETE_BATCH_SIZE = 5_000;

interface TableNames {
  /** `"schema"."table"` or `"table"`. */
  readonly table: string;
  /** `"table_expires_at_idx"` (an index lives in its table's schema, so it is never qualified). */
  readonly expiresAtIndex: string;
  /** `"table_user_id_idx"`: the index listByUser reads. */
  readonly userIdIndex: string;
}

/** The reasons `tableName` is refused, empty when it is a safe identifier. */
function tableNameProblems(tableName: unknown): string[] {
  if (typeof tableName !== 'string') return [`tableName: must be a string (got ${typeof tableName})`];
  const parts = tableName.split('.');
  const valid =
    parts.length <= 2 &&
    parts.every((part) => IDENTIFIER.test(part) && part.length <= MAX_IDENTIFIER_LENGTH) &&
    parts[parts.length - 1].length <= MAX_TABLE_PART_LENGTH;
  if (valid) return [];
  return [
    `tableName: must be "table" or "schema.table", each part letters, digits and _ not starting with a digit, ` +
      `the table at most ${MAX_TABLE_PART_LENGTH} characters (got ${JSON.stringify(tableName)})`,
  ];
}

/** Quoted identifiers for a `tableName` that passed {@link tableNameProblems}. */
function quoteTableName(tableName: string): TableNames {
  const parts = tableName.split('.');
  // Validation allows no `"` in a part, so wrapping each part in quotes is a complete quoting.
  const table = parts[parts.length - 1];
  return {
    table: parts.map((part) => `"${part}"`).join('.'),
    expiresAtIndex: `"${table}${EXPIRES_AT_INDEX_SUFFIX}"`,
    userIdIndex: `"${table}${USER_ID_INDEX_SUFFIX}"`,
  };
}

// The owner of a signed-in session, one column per field, all NULL for an anonymous session:
// plain columns (not JSONB) so listByUser is an index lookup. They came after the first schema,
// so tables created before them get them through ALTER TABLE.
const OWNER_COLUMNS: readonly (readonly [name: string, type: string])[] = [
  ['user_id', 'TEXT'],
  ['user_ip', 'TEXT'],
  ['user_agent', 'TEXT'],
  ['owner_ends_by', 'BIGINT'],
];
// The record's revision (SessionRecord.revision), advanced by set and update, compared by update.
// Rows written before it existed read as revision 0, as the contract says; a constant default
// makes ADD COLUMN a catalog-only change (PostgreSQL 11+): the table is not rewritten.
const REVISION_COLUMN = ['revision', 'BIGINT NOT NULL DEFAULT 0'] as const;
// Every column that came after the first schema, in the order it came: CREATE TABLE ends with
// them and createTable adds the missing ones to an older table, so both end up alike.
const ADDED_COLUMNS: readonly (readonly [name: string, type: string])[] = [...OWNER_COLUMNS, REVISION_COLUMN];

/** The DDL, statement by statement, each idempotent on its own. */
function schemaStatements({ table, expiresAtIndex, userIdIndex }: TableNames) {
  return {
    createTable: [
      `CREATE TABLE IF NOT EXISTS ${table} (`,
      `  key TEXT PRIMARY KEY,`,
      `  data JSONB NOT NULL,`,
      `  created_at BIGINT NOT NULL,`,
      `  touched_at BIGINT NOT NULL,`,
      `  expires_at BIGINT NOT NULL,`,
      `  cookie_max_age BIGINT,`,
      ...ADDED_COLUMNS.map(([name, type], index) => `  ${name} ${type}${index < ADDED_COLUMNS.length - 1 ? ',' : ''}`),
      `);`,
    ].join('\n'),
    addColumns: [
      `ALTER TABLE ${table}`,
      ADDED_COLUMNS.map(([name, type]) => `  ADD COLUMN IF NOT EXISTS ${name} ${type}`).join(',\n') + ';',
    ].join('\n'),
    expiresAtIndex: `CREATE INDEX IF NOT EXISTS ${expiresAtIndex} ON ${table} (expires_at);`,
    // Partial: anonymous sessions (most of them, on many sites) stay out of it.
    userIdIndex: `CREATE INDEX IF NOT EXISTS ${userIdIndex} ON ${table} (user_id, created_at) WHERE user_id IS NOT NULL;`,
  };
}

function schemaSql(names: TableNames): string {
  const ddl = schemaStatements(names);
  return [ddl.createTable, ddl.addColumns, ddl.expiresAtIndex, ddl.userIdIndex].join('\n');
}

/**
 * What {@link PostgresStore.createTable} runs: the same DDL as {@link schemaSql}, but the ALTER and
 * the CREATE INDEXes only when what they add is missing. Both lock the table even when they have
 * nothing to do (ALTER TABLE exclusively, blocking reads; CREATE INDEX against writes), and a boot
 * would then queue behind any long transaction on the table (a pg_dump, a report) with every
 * session request queued behind it. The checks read the catalog and take no table lock.
 */
function createTableSql(names: TableNames): string {
  const ddl = schemaStatements(names);
  const { table } = names;
  // Validated identifiers hold no quote nor `$`, so they fit in these literals and `$$` as they are.
  const relation = `'${table}'::regclass`;
  const indexMissing = (quoted: string) =>
    `NOT EXISTS (SELECT FROM pg_class WHERE relname = '${quoted.slice(1, -1)}' ` +
    `AND relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = ${relation}))`;
  const addedColumns = ADDED_COLUMNS.map(([name]) => `'${name}'`).join(', ');
  return [
    ddl.createTable,
    `DO $$BEGIN`,
    `IF (SELECT count(*) FROM pg_attribute WHERE attrelid = ${relation} AND attname IN (${addedColumns}) ` +
      `AND NOT attisdropped) < ${ADDED_COLUMNS.length} THEN`,
    ddl.addColumns,
    `END IF;`,
    `IF ${indexMissing(names.expiresAtIndex)} THEN`,
    ddl.expiresAtIndex,
    `END IF;`,
    `IF ${indexMissing(names.userIdIndex)} THEN`,
    ddl.userIdIndex,
    `END IF;`,
    `END$$;`,
  ].join('\n');
}

/**
 * The SQL that creates the table {@link PostgresStore} uses (and the indexes its expiry sweep and
 * `listByUser` need), for your migrations. Idempotent (`IF NOT EXISTS`), and it upgrades a table
 * created by an earlier version: the owner columns and the `revision` column are added when
 * missing (`ADD COLUMN IF NOT EXISTS`, a no-op on a new table), then the index on the owner.
 * Timestamps are ms since the epoch; `key` is the SHA-256 of the session id, never the id itself;
 * `revision` is the record's revision (0 for rows written before the column existed).
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

/** Sends one statement on the operation's connection (see `PostgresStore.#run`). */
type StatementRunner = <R extends QueryResultRow>(text: string, values: unknown[] | undefined) => Promise<QueryResult<R>>;

/** A BIGINT as pg hands it back: a string by default, a number or bigint with a custom parser. */
type BigIntValue = string | number | bigint;

interface SessionRow extends QueryResultRow {
  data: string;
  created_at: BigIntValue;
  touched_at: BigIntValue;
  expires_at: BigIntValue;
  cookie_max_age: BigIntValue | null;
  user_id: string | null;
  user_ip: string | null;
  user_agent: string | null;
  owner_ends_by: BigIntValue | null;
  revision: BigIntValue;
}

interface ListedRow extends SessionRow {
  key: string;
}

/** What the update statement reports: whether it applied, and if not, the live row's revision (null: no live row). */
interface UpdateOutcome extends QueryResultRow {
  applied: boolean;
  current: BigIntValue | null;
}

/**
 * A patch's revision, as `get` returned it: a whole number. Checked before anything is sent, so
 * a bad value is a clear error rather than an SQL one (or a comparison that never matches).
 * @throws SessionStoreError when it is not a whole number >= 0.
 */

/** Milliseconds for a BIGINT column: whole numbers (a fraction of a millisecond carries nothing). */
function toBigIntParam(ms: number): number {
  return Math.round(ms);
}

/**
 * The four owner columns' parameters, NULL for no owner. TEXT cannot hold NUL nor lone surrogates
 * either, so the strings are encoded as in the data (an ordinary user id is stored as is, and
 * listByUser encodes the id it looks for the same way).
 * @throws SessionStoreError when the user id is not 1 to 255 characters.
 */
function ownerParams(operation: string, owner: SessionOwner | undefined): (string | number | null)[] {
  if (owner === undefined) return [null, null, null, null];
  const { userId } = checkSessionOwner(owner, `PostgresStore ${operation}`);
  return [
    encodeString(userId),
    owner.ip === undefined ? null : encodeString(owner.ip),
    owner.userAgent === undefined ? null : encodeString(owner.userAgent),
    toBigIntParam(owner.endsBy),
  ];
}

/** A row as a record; owner fields left NULL stay absent rather than `undefined`. */
function toRecord(row: SessionRow): SessionRecord {
  return {
    data: fromJsonb(row.data),
    createdAt: Number(row.created_at),
    touchedAt: Number(row.touched_at),
    expiresAt: Number(row.expires_at),
    ...(row.cookie_max_age === null ? {} : { cookieMaxAge: Number(row.cookie_max_age) }),
    revision: Number(row.revision),
    // The store writes user_id and owner_ends_by together; a row edited by hand with only one of
    // them reads as anonymous rather than with an owner that ends in 1970.
    ...(row.user_id === null || row.owner_ends_by === null
      ? {}
      : {
          owner: {
            userId: decodeString(row.user_id),
            ...(row.user_ip === null ? {} : { ip: decodeString(row.user_ip) }),
            ...(row.user_agent === null ? {} : { userAgent: decodeString(row.user_agent) }),
            endsBy: Number(row.owner_ends_by),
          },
        }),
  };
}

/**
 * Keeps sessions in a PostgreSQL table, through a `pg` pool the application created: one row per
 * session, the data as JSONB. `update` merges the changed keys inside PostgreSQL under the row
 * lock, so concurrent requests never lose each other's keys.
 *
 * Each row carries a revision (`SessionRecord.revision`) that `set` and `update` advance. An
 * update made on a revision (`SessionPatch.revision`) applies only on top of that revision, in
 * the same statement: one held back by a network partition and delivered after the request gave
 * up (and answered 503) finds a newer revision and changes nothing, so it never overwrites a newer
 * acknowledged write. An update that finds a newer revision while its operation is still live (a
 * concurrent request) applies its keys again on top of that revision.
 *
 * Round trips: one statement per operation, bounded by `operationTimeout` (pool wait included).
 * The one exception is an update whose revision the row has moved past: one more statement per
 * concurrent write it meets, all on the same connection and all within the one `operationTimeout`;
 * none is sent once it has passed.
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
  readonly #updates: SerializedUpdates;
  readonly #sql: {
    readonly schema: string;
    readonly get: string;
    readonly set: string;
    readonly update: string;
    readonly touch: string;
    readonly destroy: string;
    readonly deleteExpired: string;
    readonly listByUser: string;
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
    const timeout = readOperationTimeout('PostgresStore', options.operationTimeout, problems);
    const cleanupInterval = options.cleanupInterval ?? DEFAULT_POSTGRES_CLEANUP_INTERVAL;
    const intervalProblem = cleanupIntervalProblem('PostgresStore', cleanupInterval);
    if (intervalProblem) problems.push(intervalProblem);
    if (problems.length > 0) throw new SessionConfigError(problems);

    this.#pool = options.pool;
    this.#tableName = tableName;
    this.#timeout = timeout;
    this.#updates = new SerializedUpdates(this.#timeout);
    this.#clock = options.clock ?? Date.now;
    this.#onCleanupError =
      options.onCleanupError ?? ((error) => console.warn(`PostgresStore: deleting expired sessions failed: ${error.message}`));

    const names = quoteTableName(tableName);
    const t = names.table;
    const columns =
      'data::text AS data, created_at, touched_at, expires_at, cookie_max_age, user_id, user_ip, user_agent, owner_ends_by, revision';
    this.#sql = {
      // Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog ("duplicate key
      // value violates unique constraint pg_type_typname_nsp_index") when several instances boot
      // at once; a transaction-scoped advisory lock lets only one create at a time. The statements
      // of one simple query run in one implicit transaction, which holds the lock to the end.
      schema: `SELECT pg_advisory_xact_lock(hashtext('${t}'));\n${createTableSql(names)}`,
      get: `SELECT ${columns} FROM ${t} WHERE key = $1 AND expires_at > $2`,
      // A replaced session takes the new record's owner, or none: set() replaces the whole record.
      // Its revision goes on from the replaced row's (never back to 1), so an update made on the
      // replaced record can never match the new one.
      set:
        `INSERT INTO ${t} AS s (key, data, created_at, touched_at, expires_at, cookie_max_age, user_id, user_ip, user_agent, owner_ends_by, revision) ` +
        `VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7, $8, $9, $10, 1) ` +
        `ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, created_at = EXCLUDED.created_at, ` +
        `touched_at = EXCLUDED.touched_at, expires_at = EXCLUDED.expires_at, cookie_max_age = EXCLUDED.cookie_max_age, ` +
        `user_id = EXCLUDED.user_id, user_ip = EXCLUDED.user_ip, user_agent = EXCLUDED.user_agent, owner_ends_by = EXCLUDED.owner_ends_by, ` +
        `revision = s.revision + 1`,
      // One statement: the row lock UPDATE takes makes concurrent updates of one session run one
      // after the other, each merging into what the previous one committed (READ COMMITTED
      // re-reads the row after the wait), so no writer loses another's keys. The expiry condition
      // is re-checked on that fresh row too: a session destroyed or expired meanwhile matches
      // nothing and is never brought back.
      // The owner's four columns change together, or not at all ($9: the patch carries an owner,
      // or null, which writes four NULLs).
      // $14 is the revision the patch was made on (NULL: apply on top of any): compared on that
      // same fresh row, under its lock, and advanced in the same statement, so a statement that
      // reaches the server after the row moved on (held by a partition after the caller gave up)
      // matches nothing. The outcome comes back in the same round trip: whether it applied, and
      // if not, the live row's revision (NULL: no live row, the session is gone), so a conflict
      // costs no separate SELECT. That read uses the statement's snapshot, taken before any wait
      // for the row lock: after waiting for a concurrent update it may still show the revision
      // the patch named, and the caller then simply tries once more (with a fresh snapshot). The
      // CASE reads it only when nothing applied (an uncorrelated subquery runs on first use).
      // GREATEST: a statement held back by a partition may still match the revision after a newer
      // touch (which leaves the revision alone); it must not move the lifetime back.
      update:
        `WITH applied AS (` +
        `UPDATE ${t} SET data = (data - $2::text[]) || $3::jsonb, touched_at = GREATEST(touched_at, $4), expires_at = GREATEST(expires_at, $5), ` +
        `cookie_max_age = CASE WHEN $6::boolean THEN $7::bigint ELSE cookie_max_age END, ` +
        `user_id = CASE WHEN $9::boolean THEN $10::text ELSE user_id END, ` +
        `user_ip = CASE WHEN $9::boolean THEN $11::text ELSE user_ip END, ` +
        `user_agent = CASE WHEN $9::boolean THEN $12::text ELSE user_agent END, ` +
        `owner_ends_by = CASE WHEN $9::boolean THEN $13::bigint ELSE owner_ends_by END, ` +
        `revision = revision + 1 ` +
        `WHERE key = $1 AND expires_at > $8 AND ($14::bigint IS NULL OR revision = $14::bigint) RETURNING 1) ` +
        `SELECT EXISTS (SELECT FROM applied) AS applied, ` +
        `CASE WHEN EXISTS (SELECT FROM applied) THEN NULL ` +
        `ELSE (SELECT revision FROM ${t} WHERE key = $1 AND expires_at > $8) END AS current`,
      // A touch carries no revision and changes no data, so it neither checks nor advances one.
      // GREATEST: a touch held back by a partition and delivered after a newer touch or update
      // must not move the lifetime back (an active session would expire early, or be swept).
      touch:
        `UPDATE ${t} SET touched_at = GREATEST(touched_at, $2::bigint), expires_at = GREATEST(expires_at, $3::bigint) ` +
        `WHERE key = $1 AND expires_at > $4`,
      destroy: `DELETE FROM ${t} WHERE key = $1`,
      // The outer expiry condition is re-checked on rows replaced meanwhile (a set() of the same
      // key), so a fresh record is never deleted for the expired one the subquery saw.
      deleteExpired:
        `DELETE FROM ${t} WHERE key IN (SELECT key FROM ${t} WHERE expires_at <= $1 LIMIT $2) AND expires_at <= $1`,
      // The user_id index finds the user's rows (few) in created_at order; the key breaks ties so
      // the order is the same on every call.
      listByUser: `SELECT key, ${columns} FROM ${t} WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at, key`,
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
   * Creates the table and its indexes when they do not exist yet, and adds the owner and revision
   * columns to a table created by an earlier version ({@link renderPostgresSchema}'s SQL, each ALTER or CREATE
   * INDEX run only when what it adds is missing, so an up-to-date table is not locked); safe to
   * call on every boot and from several instances at once.
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
      return toRecord(row);
    } catch (error) {
      throw toSessionStoreError('get', error);
    }
  }

  /** @throws SessionStoreError when `record.owner.userId` is not 1 to 255 characters. */
  async set(key: string, record: SessionRecord): Promise<void> {
    const owner = ownerParams('set', record.owner);
    await this.#query('set', this.#sql.set, [
      key,
      toJsonb(record.data),
      toBigIntParam(record.createdAt),
      toBigIntParam(record.touchedAt),
      toBigIntParam(record.expiresAt),
      record.cookieMaxAge === undefined ? null : toBigIntParam(record.cookieMaxAge),
      ...owner,
    ]);
  }

  /**
   * Applies the patch in one statement. With `patch.revision`, the statement applies it only on
   * top of that revision; when the row has moved on (a concurrent request wrote it), the store
   * sends it again on top of the revision the statement reported, on the same connection, for as
   * long as the operation is within `operationTimeout`. Each attempt names the revision it saw,
   * so an attempt held back and delivered after the caller gave up changes nothing.
   * @throws SessionStoreError when `patch.owner.userId` is not 1 to 255 characters, or
   *   `patch.revision` is not a whole number >= 0.
   */
  async update(key: string, patch: SessionPatch): Promise<boolean> {
    const owner = ownerParams('update', patch.owner ?? undefined);
    const loaded = checkPatchRevision('PostgresStore', patch.revision);
    const values = [
      key,
      patch.unset.map(encodeString),
      toJsonb(patch.set),
      toBigIntParam(patch.touchedAt),
      toBigIntParam(patch.expiresAt),
      patch.cookieMaxAge !== undefined,
      patch.cookieMaxAge == null ? null : toBigIntParam(patch.cookieMaxAge),
      this.#now(),
      patch.owner !== undefined,
      ...owner,
    ];
    return this.#run('update', (query) =>
      // One at a time per session in this process, each naming the revision the last one left.
      this.#updates.run(key, loaded, async (named) => {
        let revision = named ?? null;
        for (;;) {
          const result = await query<UpdateOutcome>(this.#sql.update, [...values, revision]);
          const { applied, current } = result.rows[0];
          // Applied on exactly `revision`, which it advanced by one.
          if (applied) return { result: true, ...(revision === null ? {} : { revision: revision + 1 }) };
          // No live row: destroyed or expired meanwhile, and never brought back.
          if (current === null) return { result: false };
          // Live at another revision: a concurrent request committed first. This operation is
          // still live (query refuses to send once it timed out), so its keys go on top of that
          // revision, keeping both requests' changes, as an update without a revision would.
          revision = Number(current);
        }
      }),
    );
  }

  /**
   * The live sessions of `userId`, oldest first: one statement on the user_id index. The id is
   * compared exactly (TEXT equality is byte-wise), so ids differing only in case are different
   * users. Rows written before the owner columns existed have no owner and are never listed.
   */
  async listByUser(userId: string): Promise<StoredSession[]> {
    const result = await this.#query<ListedRow>('listByUser', this.#sql.listByUser, [encodeString(userId), this.#now()]);
    try {
      return result.rows.map((row) => ({ key: row.key, record: toRecord(row) }));
    } catch (error) {
      throw toSessionStoreError('listByUser', error);
    }
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

  /** Runs one statement, as {@link PostgresStore.#run} runs an operation. */
  #query<R extends QueryResultRow = QueryResultRow>(operation: string, text: string, values: unknown[] | undefined): Promise<QueryResult<R>> {
    return this.#run(operation, (query) => query<R>(text, values));
  }

  /**
   * Runs one operation on one connection of the pool, bounded as a whole (pool wait and every
   * statement) by the operation timeout, and wraps every failure in a SessionStoreError. `work`
   * sends its statements through `query`, which refuses to send one once the operation has timed
   * out.
   */
  async #run<T>(operation: string, work: (query: StatementRunner) => Promise<T>): Promise<T> {
    const deadline = performance.now() + this.#timeout;
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
    const query = async <R extends QueryResultRow>(text: string, values: unknown[] | undefined): Promise<QueryResult<R>> => {
      // The caller already got its timeout (and maybe a 503), or is about to: a write it gave up
      // on must not land later behind its back, so the statement is never sent. The deadline is
      // checked as well as the flag, which is set only once the timeout's rejection is handled.
      if (abandoned || performance.now() >= deadline) {
        release();
        throw new OperationTimeoutError(`Session store ${operation} timed out after ${this.#timeout} ms`);
      }
      try {
        return await client!.query<R>(text, values);
      } catch (error) {
        release(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    };
    const run = async (): Promise<T> => {
      client = await this.#pool.connect();
      client.on('error', onConnectionError);
      try {
        return await work(query);
      } finally {
        release();
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

import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { SessionStoreError, toSessionStoreError } from '../core/errors';
import type { SessionPatch, SessionRecord, SessionStore } from '../core/session-store';
import { cleanupIntervalProblem, DEFAULT_CLEANUP_INTERVAL, ExpiredSessionSweeper } from './expired-session-sweeper';
import { checkOperationTimeout, withOperationTimeout } from './operation-timeout';

/** Options of {@link MysqlStore}. */
export interface MysqlStoreOptions {
  /**
   * A `mysql2/promise` pool the application created (`createPool` from `mysql2/promise`, or
   * `pool.promise()` of a callback pool). The store never ends it: the pool stays the
   * application's to close, after the Nest application (and so the store) has closed.
   */
  pool: Pool;
  /**
   * Table holding the sessions, optionally qualified by its database (`auth.sessions`). Each part
   * must be a plain identifier (letters, digits, `_`, at most 64 characters, not starting with a
   * digit): it is written into SQL, so anything else is refused when the store is built.
   * @default 'sessions'
   */
  tableName?: string;
  /**
   * Longest one operation may take, in milliseconds, before it rejects with a
   * `SessionStoreError` (the request answers 503). A pool waiting for a connection to an
   * unreachable server would otherwise hold the request for `connectTimeout` (10 s in mysql2) or
   * longer.
   * @default 2000
   */
  operationTimeout?: number;
  /**
   * How often expired rows are deleted, in milliseconds, or `false` to leave it to the
   * application (`deleteExpired()` from a job, or a MySQL `EVENT`). Expired rows are never
   * returned either way: the sweep only reclaims space. The timer is unref'd (it never keeps the
   * process alive) and stopped by `close()`. Several instances sweeping the same table is
   * harmless: the sweep is an idempotent, indexed `DELETE` in batches of 1000 rows.
   * @default 900_000 (15 minutes)
   */
  cleanupInterval?: number | false;
  /** Where a failed background sweep is reported. @default console.warn */
  onCleanupError?: (error: SessionStoreError) => void;
  /** Milliseconds since the epoch: what "expired" is measured against. @default Date.now */
  clock?: () => number;
}

const DEFAULT_TABLE_NAME = 'sessions';
// Batches keep each DELETE short: a big backlog never holds row locks or undo for long.
const CLEANUP_BATCH_SIZE = 1_000;
// MariaDB's JSON functions refuse documents nested 32 levels or deeper (JSON_DEPTH_LIMIT), and
// where the SQL mode is not strict they turn such a value into JSON null with a mere warning.
// Refusing deeper data up front keeps MariaDB and MySQL (limit 100) alike and loses nothing silently.
const MAX_JSON_NESTING = 31;
// Above this many keys a patch is applied in a short transaction instead of one statement:
// MariaDB parses each nested JSON_REMOVE recursively (about 600 levels overrun its default
// thread stack) and JSON_SET rescans the document for every key.
const MAX_KEYS_PER_STATEMENT = 64;
// Attempts of an operation chosen as an InnoDB deadlock victim.
const DEADLOCK_ATTEMPTS = 3;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

interface SessionRow extends RowDataPacket {
  data: unknown;
  created_at: unknown;
  touched_at: unknown;
  expires_at: unknown;
  cookie_max_age: unknown;
}

/**
 * Keeps sessions in a MariaDB or MySQL 8 table, through a `mysql2/promise` pool the
 * application owns. `update` applies a patch key by key in one atomic `UPDATE` (`JSON_REMOVE` /
 * `JSON_SET` on the row, which the statement holds locked), so concurrent requests that change
 * different keys of one session keep each other's changes, and a destroyed or expired session is
 * never brought back.
 *
 * @example
 * import { createPool } from 'mysql2/promise';
 * const pool = createPool({ host: 'localhost', user: 'app', database: 'app', connectionLimit: 10 });
 * const store = new MysqlStore({ pool });
 * await store.createTable(); // or run MysqlStore.createTableSql() in a migration
 * SessionModule.forRoot({ secret: process.env.SESSION_SECRET!, store });
 */
export class MysqlStore implements SessionStore {
  readonly #pool: Pool;
  readonly #tableName: string;
  /** The table name quoted for SQL (validated identifiers in backticks). */
  readonly #table: string;
  readonly #timeout: number;
  readonly #clock: () => number;
  readonly #onCleanupError: (error: SessionStoreError) => void;
  readonly #updateStatements = new Map<string, string>();
  readonly #sweeper: ExpiredSessionSweeper;

  /**
   * @throws TypeError when `pool` is missing or is a callback (non-promise) pool.
   * @throws RangeError when `tableName`, `operationTimeout` or `cleanupInterval` is invalid.
   */
  constructor(options: MysqlStoreOptions) {
    const pool = options?.pool as Pool | undefined;
    if (pool == null || typeof pool.execute !== 'function' || typeof pool.getConnection !== 'function') {
      throw new TypeError('MysqlStore pool must be a mysql2/promise pool (createPool from "mysql2/promise")');
    }
    // A callback pool has the same method names but never settles a promise: every request would
    // hang until the operation timeout. Its promise() method gives the pool this store needs.
    if (typeof (pool as unknown as { promise?: unknown }).promise === 'function') {
      throw new TypeError('MysqlStore pool is a callback pool: pass pool.promise(), or create it with "mysql2/promise"');
    }
    this.#pool = pool;
    this.#tableName = options.tableName ?? DEFAULT_TABLE_NAME;
    this.#table = quoteTableName(this.#tableName);
    this.#timeout = checkOperationTimeout('MysqlStore', options.operationTimeout);
    this.#clock = options.clock ?? Date.now;
    this.#onCleanupError = options.onCleanupError ?? ((error) => console.warn(`MysqlStore cleanup failed: ${error.message}`));

    const interval = options.cleanupInterval ?? DEFAULT_CLEANUP_INTERVAL;
    const intervalProblem = cleanupIntervalProblem('MysqlStore', interval);
    if (intervalProblem) throw new RangeError(intervalProblem);
    this.#sweeper = new ExpiredSessionSweeper(
      interval,
      (shouldStop) => this.#deleteExpired(() => !shouldStop()),
      (error) => this.#onCleanupError(toSessionStoreError('deleteExpired', error)),
    );
  }

  /**
   * The `CREATE TABLE IF NOT EXISTS` statement of the sessions table, for migrations. The same
   * text runs on MariaDB and MySQL 8.
   * @throws RangeError when `tableName` is not a plain (optionally database-qualified) identifier.
   */
  static createTableSql(tableName: string = DEFAULT_TABLE_NAME): string {
    // session_key: the 43-character base64url SHA-256 of the session id, compared byte for byte
    // (ascii_bin): base64url is case-sensitive, a case-insensitive collation would merge keys.
    // data: JSON is a real type on MySQL and LONGTEXT utf8mb4_bin CHECK (JSON_VALID(data)) on
    // MariaDB; either way invalid JSON is refused rather than stored.
    // Times are milliseconds since the epoch, as the library's clock counts them.
    return `CREATE TABLE IF NOT EXISTS ${quoteTableName(tableName)} (
  session_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  data JSON NOT NULL,
  created_at BIGINT NOT NULL,
  touched_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  cookie_max_age BIGINT NULL,
  PRIMARY KEY (session_key),
  KEY expires_at_idx (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;
  }

  /** Creates the sessions table if it does not exist yet (see {@link MysqlStore.createTableSql}). */
  async createTable(): Promise<void> {
    const sql = MysqlStore.createTableSql(this.#tableName);
    // query, not execute: DDL gains nothing from a prepared statement.
    await this.#run('createTable', () => this.#pool.query(sql));
  }

  /** One indexed SELECT by primary key, `expires_at > now`. */
  get(key: string): Promise<SessionRecord | undefined> {
    return this.#run('get', async () => {
      const [rows] = await this.#pool.execute<SessionRow[]>(
        statement(
          `SELECT data, created_at, touched_at, expires_at, cookie_max_age FROM ${this.#table} ` +
            'WHERE session_key = ? AND expires_at > ?',
        ),
        [key, this.#clock()],
      );
      const row = rows[0];
      if (row === undefined) return undefined;
      const cookieMaxAge = row.cookie_max_age == null ? undefined : toNumber(row.cookie_max_age, 'cookie_max_age');
      return {
        data: parseData(row.data),
        createdAt: toNumber(row.created_at, 'created_at'),
        touchedAt: toNumber(row.touched_at, 'touched_at'),
        expiresAt: toNumber(row.expires_at, 'expires_at'),
        ...(cookieMaxAge === undefined ? {} : { cookieMaxAge }),
      };
    });
  }

  /** One `INSERT ... ON DUPLICATE KEY UPDATE` of the whole record. */
  set(key: string, record: SessionRecord): Promise<void> {
    return this.#run('set', async () => {
      const data = serializeDocument(record.data);
      const values = [data, record.createdAt, record.touchedAt, record.expiresAt, record.cookieMaxAge ?? null];
      // The values are bound twice rather than read back with VALUES(col), which MySQL 8.0.20
      // deprecated, or a row alias, which MariaDB lacks.
      await this.#pool.execute(
        statement(
          `INSERT INTO ${this.#table} (session_key, data, created_at, touched_at, expires_at, cookie_max_age) ` +
            'VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE ' +
            'data = ?, created_at = ?, touched_at = ?, expires_at = ?, cookie_max_age = ?',
        ),
        [key, ...values, ...values],
      );
    });
  }

  /**
   * One `UPDATE` applying the patch key by key (see `#updateSql`), resolving true when it matched
   * the live row. Patches of more than 64 keys take a short locked transaction instead.
   * @throws SessionStoreError when data would nest deeper than MariaDB's JSON limit (31 levels).
   */
  update(key: string, patch: SessionPatch): Promise<boolean> {
    return this.#run('update', async (deadline) => {
      const set: [path: string, json: string][] = [];
      const unset = [...patch.unset];
      for (const [name, value] of Object.entries(patch.set)) {
        const json = JSON.stringify(value) as string | undefined;
        // What JSON cannot represent (undefined, a function) is dropped, as JSON.stringify drops
        // it from a whole record.
        if (json === undefined) unset.push(name);
        else {
          if (jsonNesting(json) + 1 > MAX_JSON_NESTING) throw tooDeep();
          set.push([jsonPath(name), json]);
        }
      }
      const now = this.#clock();
      if (set.length + unset.length > MAX_KEYS_PER_STATEMENT) {
        return this.#updateInTransaction(key, patch, now, deadline);
      }
      const removals = padToPowerOfTwo(unset.map(jsonPath));
      const writes = padToPowerOfTwo(set);
      const keepCookieMaxAge = patch.cookieMaxAge === undefined;
      const values: (string | number | null)[] = [...removals, ...writes.flat(), patch.touchedAt, patch.expiresAt];
      if (!keepCookieMaxAge) values.push(patch.cookieMaxAge ?? null);
      values.push(key, now);
      const [result] = await this.#pool.execute<ResultSetHeader>(
        statement(this.#updateSql(removals.length, writes.length, keepCookieMaxAge)),
        values,
      );
      return matchedRows(result) === 1;
    });
  }

  /** One `DELETE` by primary key. */
  destroy(key: string): Promise<void> {
    return this.#run('destroy', async () => {
      await this.#pool.execute(statement(`DELETE FROM ${this.#table} WHERE session_key = ?`), [key]);
    });
  }

  /** One `UPDATE` of `touched_at` and `expires_at`, only while the row is live. */
  touch(key: string, record: SessionRecord): Promise<void> {
    return this.#run('touch', async () => {
      await this.#pool.execute(
        statement(
          `UPDATE ${this.#table} FORCE INDEX (PRIMARY) SET touched_at = ?, expires_at = ? ` +
            'WHERE session_key = ? AND expires_at > ?',
        ),
        [record.touchedAt, record.expiresAt, key, this.#clock()],
      );
    });
  }

  /**
   * Deletes every session past its `expiresAt`, in batches of 1000 rows (each batch bounded by
   * `operationTimeout`), and resolves with how many were deleted. What the cleanup timer runs;
   * call it from a job instead when `cleanupInterval` is `false`.
   * @throws SessionStoreError when a batch fails; the batches before it stay deleted.
   */
  deleteExpired(): Promise<number> {
    return this.#deleteExpired(() => true);
  }

  /**
   * Stops the cleanup timer and waits for a sweep in progress (it stops after its current batch).
   * The pool is left open: it belongs to the application.
   */
  close(): Promise<void> {
    return this.#sweeper.stop();
  }

  async #deleteExpired(shouldContinue: () => boolean): Promise<number> {
    // One cut-off for the whole run, so a steady stream of newly expiring sessions cannot keep
    // it going forever.
    const now = this.#clock();
    const sql = statement(`DELETE FROM ${this.#table} WHERE expires_at <= ? LIMIT ${CLEANUP_BATCH_SIZE}`);
    let total = 0;
    for (;;) {
      const deleted = await this.#run('deleteExpired', async () => {
        const [result] = await this.#pool.execute<ResultSetHeader>(sql, [now]);
        return result.affectedRows;
      });
      total += deleted;
      if (deleted < CLEANUP_BATCH_SIZE || !shouldContinue()) return total;
    }
  }

  /**
   * The UPDATE of a patch shape, cached. Removals come first, one JSON_REMOVE per key: MariaDB's
   * JSON_REMOVE with several paths loses the document's character set after the second removal
   * and then fails to match non-ASCII keys (seen on 10.11), while nested single-path calls are
   * exact. JSON_SET takes every written key in one call; JSON_EXTRACT(?, '$') turns each bound
   * JSON text into a JSON value (MariaDB has no CAST(... AS JSON)). The row is locked for the
   * whole statement, and `expires_at > ?` makes a destroyed or expired session match nothing.
   * FORCE INDEX (PRIMARY): on a small table MariaDB plans a range scan of expires_at_idx instead,
   * locking the secondary index before the row, the reverse of other writers: deadlocks.
   */
  #updateSql(removals: number, writes: number, keepCookieMaxAge: boolean): string {
    const shape = `${removals}/${writes}/${keepCookieMaxAge}`;
    let sql = this.#updateStatements.get(shape);
    if (sql === undefined) {
      let data = 'data';
      for (let index = 0; index < removals; index++) data = `JSON_REMOVE(${data}, ?)`;
      if (writes > 0) data = `JSON_SET(${data}, ${Array.from({ length: writes }, () => "?, JSON_EXTRACT(?, '$')").join(', ')})`;
      const assignments = [...(data === 'data' ? [] : [`data = ${data}`]), 'touched_at = ?', 'expires_at = ?'];
      if (!keepCookieMaxAge) assignments.push('cookie_max_age = ?');
      sql = `UPDATE ${this.#table} FORCE INDEX (PRIMARY) SET ${assignments.join(', ')} WHERE session_key = ? AND expires_at > ?`;
      this.#updateStatements.set(shape, sql);
    }
    return sql;
  }

  /**
   * A patch too large for one statement: read the data under a row lock (SELECT ... FOR UPDATE),
   * merge in JS, write it back, in one transaction on one connection. Four round trips, still
   * atomic against every other update of the session, which waits for the lock.
   */
  async #updateInTransaction(key: string, patch: SessionPatch, now: number, deadline: number): Promise<boolean> {
    const connection: PoolConnection = await this.#pool.getConnection();
    try {
      await connection.query('START TRANSACTION');
      const [rows] = await connection.execute<SessionRow[]>(
        statement(`SELECT data FROM ${this.#table} FORCE INDEX (PRIMARY) WHERE session_key = ? AND expires_at > ? FOR UPDATE`),
        [key, now],
      );
      const row = rows[0];
      if (row === undefined) {
        await connection.query('ROLLBACK');
        connection.release();
        return false;
      }
      const data = parseData(row.data);
      for (const name of patch.unset) delete data[name];
      for (const [name, value] of Object.entries(patch.set)) {
        Object.defineProperty(data, name, { value, writable: true, enumerable: true, configurable: true });
      }
      const values: (string | number | null)[] = [serializeDocument(data), patch.touchedAt, patch.expiresAt];
      if (patch.cookieMaxAge !== undefined) values.push(patch.cookieMaxAge);
      values.push(key);
      await connection.execute(
        statement(
          `UPDATE ${this.#table} SET data = ?, touched_at = ?, expires_at = ?` +
            (patch.cookieMaxAge === undefined ? '' : ', cookie_max_age = ?') +
            ' WHERE session_key = ?',
        ),
        values,
      );
      // The caller has been told this update failed once the timeout passed: do not commit it.
      if (performance.now() > deadline) throw new SessionStoreError(`Session store update timed out after ${this.#timeout} ms`);
      await connection.query('COMMIT');
    } catch (error) {
      // Closing the connection rolls back whatever it left open, and a connection in an unknown
      // state never goes back to the pool.
      connection.destroy();
      throw error;
    }
    connection.release();
    return true;
  }

  /**
   * Runs one operation within the operation timeout, failures wrapped as SessionStoreError. InnoDB
   * may pick any statement as a deadlock victim (the sweep's DELETE walks the expires_at index,
   * writers lock the primary key first); the victim was rolled back whole, so it is retried, a
   * few times and only while the caller is still waiting.
   */
  #run<T>(operation: string, work: (deadline: number) => Promise<T>): Promise<T> {
    const deadline = performance.now() + this.#timeout;
    return withOperationTimeout(operation, this.#timeout, async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await work(deadline);
        } catch (error) {
          if (attempt < DEADLOCK_ATTEMPTS && isDeadlock(error) && performance.now() < deadline) continue;
          throw toSessionStoreError(operation, error);
        }
      }
    });
  }
}

/**
 * Query options for one statement. Rows are asked for as plain objects whatever the pool's
 * defaults (`rowsAsArray`, `nestTables`). Statements go through `execute` (server-side prepared,
 * binary protocol): values are never spliced into SQL text, so no escaping rule (nor the
 * NO_BACKSLASH_ESCAPES mode, which breaks client-side escaping of JSON) can corrupt them.
 */
function statement(sql: string): { sql: string; rowsAsArray: false; nestTables: false } {
  return { sql, rowsAsArray: false, nestTables: false };
}

function quoteTableName(tableName: string): string {
  const parts = typeof tableName === 'string' ? tableName.split('.') : [];
  if (parts.length < 1 || parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part))) {
    throw new RangeError(
      `MysqlStore tableName must be a plain identifier, optionally qualified by a database ` +
        `(letters, digits and _, at most 64 each, not starting with a digit; got ${JSON.stringify(tableName)})`,
    );
  }
  return parts.map((part) => `\`${part}\``).join('.');
}

/**
 * A JSON path naming one top-level member. The name is written as a JSON string literal
 * (`$."a.b"`, `$."x\"y"`), which both servers unescape, so dots, quotes, `$`, brackets,
 * backslashes and any Unicode in a key are taken literally.
 */
function jsonPath(name: string): string {
  return `$.${JSON.stringify(name)}`;
}

/**
 * Repeats the last item up to the next power of two. Removing a key twice or writing the same
 * value twice changes nothing, and it bounds the distinct UPDATE statements (each one a prepared
 * statement on every pooled connection) to a few dozen instead of one per patch size.
 */
function padToPowerOfTwo<T>(items: T[]): T[] {
  if (items.length < 2) return items;
  const size = 2 ** Math.ceil(Math.log2(items.length));
  const last = items[items.length - 1];
  return [...items, ...Array.from({ length: size - items.length }, () => last)];
}

function isDeadlock(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ER_LOCK_DEADLOCK';
}

/** Rows the UPDATE matched, whether or not the pool reports found rows (mysql2's FOUND_ROWS flag). */
function matchedRows(result: ResultSetHeader): number {
  // Without FOUND_ROWS, affectedRows counts changed rows only: an update writing the values
  // already stored would look like a vanished session. The info string says what matched.
  const matched = /Rows matched:\s*(\d+)/.exec(result.info ?? '');
  return matched ? Number(matched[1]) : result.affectedRows;
}

function serializeDocument(data: Readonly<Record<string, unknown>>): string {
  const json = JSON.stringify(data);
  if (jsonNesting(json) > MAX_JSON_NESTING) throw tooDeep();
  return json;
}

function tooDeep(): SessionStoreError {
  return new SessionStoreError(
    `Session data nested more than ${MAX_JSON_NESTING} levels deep is refused (MariaDB's JSON limit)`,
  );
}

/** How deeply arrays and objects nest in a JSON text (the top-level object counts as 1). */
function jsonNesting(json: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < json.length; index++) {
    const code = json.charCodeAt(index);
    if (inString) {
      if (code === 0x5c) index++; // backslash: skip the escaped character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x7b || code === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (code === 0x7d || code === 0x5d) depth--;
  }
  return deepest;
}

/**
 * The data column as an object. mysql2 parses a MySQL JSON column itself (unless `jsonStrings`),
 * and MariaDB's JSON, a LONGTEXT, when the server flags it as JSON; otherwise it is text.
 */
function parseData(value: unknown): Record<string, unknown> {
  const data: unknown = typeof value === 'string' ? JSON.parse(value) : Buffer.isBuffer(value) ? JSON.parse(value.toString('utf8')) : value;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new SessionStoreError('Session store row holds data that is not a JSON object');
  }
  return data as Record<string, unknown>;
}

/** mysql2 gives BIGINT as a number, or as a string with `bigNumberStrings` / `supportBigNumbers`. */
function toNumber(value: unknown, column: string): number {
  const number = typeof value === 'number' ? value : typeof value === 'string' || typeof value === 'bigint' ? Number(value) : Number.NaN;
  if (!Number.isFinite(number)) throw new SessionStoreError(`Session store row has a non-numeric ${column}`);
  return number;
}

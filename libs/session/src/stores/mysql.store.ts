import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { SessionConfigError, SessionStoreError, toSessionStoreError } from '../core/errors';
import { checkSessionOwner } from '../core/session-owner';
import type { SessionOwner, SessionPatch, SessionRecord, SessionStore, StoredSession } from '../core/session-store';
import { cleanupIntervalProblem, DEFAULT_CLEANUP_INTERVAL, ExpiredSessionSweeper } from './expired-session-sweeper';
import { checkPatchRevision, SerializedUpdates } from './serialized-updates';
import { readOperationTimeout, OperationTimeoutError, withOperationTimeout } from './operation-timeout';

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
// The owner of a signed-in session, one column per field, all NULL for an anonymous session.
// Their widths are the bounds every store enforces (checkSessionOwner in core), so a value is
// never refused by the server with a bare "Data too long" (strict mode) nor silently cut:
// plain columns so listByUser is an index lookup. They came after the first schema, so
// createTable adds them (and their index) to tables created before. user_id compares byte for
// byte (utf8mb4_bin), so ids differing in case are different users.
const OWNER_COLUMNS: readonly (readonly [name: string, definition: string])[] = [
  ['user_id', 'VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL'],
  ['user_ip', 'VARCHAR(255) NULL'],
  ['user_agent', 'VARCHAR(512) NULL'],
  ['owner_ends_by', 'BIGINT NULL'],
];
// The record's revision (SessionRecord.revision), advanced by set and update, compared by update.
// Rows written before it existed read as revision 0, as the contract says. Added at the end with
// a constant default, both servers add it instantly (MariaDB 10.3+, MySQL 8.0.12+: no rebuild).
const REVISION_COLUMN = ['revision', 'BIGINT NOT NULL DEFAULT 0'] as const;
// Every column that came after the first schema, in the order it came: CREATE TABLE ends with
// them and createTable adds the missing ones to an older table, so both end up alike.
const ADDED_COLUMNS: readonly (readonly [name: string, definition: string])[] = [...OWNER_COLUMNS, REVISION_COLUMN];
const USER_ID_INDEX = 'KEY user_id_idx (user_id, created_at)';
/** The owner assignments of an UPDATE, in the order of `ownerValues`. */
const OWNER_ASSIGNMENTS = 'user_id = ?, user_ip = ?, user_agent = ?, owner_ends_by = ?';
// Attempts at adding what an old table lacks: a duplicate column or key means another instance,
// booting at the same time, added it first; each of the two ALTERs can lose that race once.
const UPGRADE_ATTEMPTS = 3;
const SELECTED_COLUMNS =
  'data, created_at, touched_at, expires_at, cookie_max_age, user_id, user_ip, user_agent, owner_ends_by, revision';

interface SessionRow extends RowDataPacket {
  data: unknown;
  created_at: unknown;
  touched_at: unknown;
  expires_at: unknown;
  cookie_max_age: unknown;
  user_id: unknown;
  user_ip: unknown;
  user_agent: unknown;
  owner_ends_by: unknown;
  revision: unknown;
}

/** A statement as `statement()` makes it. */
type Statement = ReturnType<typeof statement>;

/** What one operation's work gets from `MysqlStore.#run`: its statements go through it. */
interface Operation {
  /** Throws once the caller has been told the operation timed out. */
  ensureLive(): void;
  /** One statement on a connection of the pool, unless the operation timed out; its result. */
  execute<R extends ResultSetHeader | RowDataPacket[]>(sql: Statement, values: (string | number | null)[]): Promise<R>;
  /** A connection for several statements (a transaction), unless the operation timed out. */
  connect(): Promise<PoolConnection>;
  /**
   * What a statement sent on a connection from `connect` resolves to, or the timeout's rejection
   * once the operation timed out: the connection is dropped then, and a dropped connection may
   * never answer (see `MysqlStore.#run`). Every statement sent on such a connection is awaited
   * through it.
   */
  reply<T>(sent: Promise<T>): Promise<T>;
  /** Hands a connection from `connect` back to the pool. */
  release(connection: PoolConnection): void;
  /** Closes a connection from `connect` in an unknown state (a transaction left open). */
  drop(connection: PoolConnection): void;
}

interface RevisionRow extends RowDataPacket {
  revision: unknown;
}

interface ListedRow extends SessionRow {
  session_key: unknown;
}

/**
 * Keeps sessions in a MariaDB or MySQL 8 table, through a `mysql2/promise` pool the
 * application owns. `update` applies a patch key by key in one atomic `UPDATE` (`JSON_REMOVE` /
 * `JSON_SET` on the row, which the statement holds locked), so concurrent requests that change
 * different keys of one session keep each other's changes, and a destroyed or expired session is
 * never brought back.
 *
 * Each row carries a revision (`SessionRecord.revision`) that `set` and `update` advance. An
 * update made on a revision (`SessionPatch.revision`) applies only on top of that revision, in
 * the same statement: one held back by a network partition and delivered after the request gave
 * up (and answered 503) finds a newer revision and changes nothing, so it never overwrites a newer
 * acknowledged write. An update that finds a newer revision while its operation is still live (a
 * concurrent request) reads it and applies its keys again on top of it.
 *
 * Round trips: one statement per operation, bounded by `operationTimeout`. The exceptions: an
 * update whose revision the row has moved past takes two more (read the revision, apply again)
 * per concurrent write it meets, and a patch of more than 64 keys takes a short transaction (four);
 * either way within the one `operationTimeout`, and nothing is sent once it has passed.
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
  /** Reads the live row's revision, after an update that named another one matched nothing. */
  readonly #revisionSql: Statement;
  readonly #sweeper: ExpiredSessionSweeper;
  readonly #updates: SerializedUpdates;

  /** @throws SessionConfigError listing every invalid option. */
  constructor(options: MysqlStoreOptions) {
    const problems: string[] = [];
    const pool = options?.pool as Pool | undefined;
    if (pool == null || typeof pool.execute !== 'function' || typeof pool.getConnection !== 'function') {
      problems.push('MysqlStore pool must be a mysql2/promise pool (createPool from "mysql2/promise")');
    } else if (typeof (pool as unknown as { promise?: unknown }).promise === 'function') {
      // A callback pool has the same method names but never settles a promise: every request
      // would hang until the operation timeout. Its promise() method gives the pool this store needs.
      problems.push('MysqlStore pool is a callback pool: pass pool.promise(), or create it with "mysql2/promise"');
    }
    const tableName = options?.tableName ?? DEFAULT_TABLE_NAME;
    const tableProblem = tableNameProblem(tableName);
    if (tableProblem) problems.push(tableProblem);
    const timeout = readOperationTimeout('MysqlStore', options?.operationTimeout, problems);
    const interval = options?.cleanupInterval ?? DEFAULT_CLEANUP_INTERVAL;
    const intervalProblem = cleanupIntervalProblem('MysqlStore', interval);
    if (intervalProblem) problems.push(intervalProblem);
    if (problems.length > 0) throw new SessionConfigError(problems);
    this.#pool = pool!;
    this.#tableName = tableName;
    this.#table = quoteTableName(this.#tableName);
    this.#revisionSql = statement(`SELECT revision FROM ${this.#table} WHERE session_key = ? AND expires_at > ?`);
    this.#timeout = timeout;
    this.#updates = new SerializedUpdates(this.#timeout);
    this.#clock = options.clock ?? Date.now;
    this.#onCleanupError = options.onCleanupError ?? ((error) => console.warn(`MysqlStore cleanup failed: ${error.message}`));

    this.#sweeper = new ExpiredSessionSweeper(
      interval,
      (shouldStop) => this.#deleteExpired(() => !shouldStop()),
      (error) => this.#onCleanupError(toSessionStoreError('deleteExpired', error)),
    );
  }

  /**
   * The `CREATE TABLE IF NOT EXISTS` statement of the sessions table, for migrations. The same
   * text runs on MariaDB and MySQL 8. It leaves an existing table as it is: a table created by an
   * earlier version needs the owner and revision columns added (the library README lists the
   * ALTERs), which {@link MysqlStore.createTable} does by itself.
   * @throws RangeError when `tableName` is not a plain (optionally database-qualified) identifier.
   */
  static createTableSql(tableName: string = DEFAULT_TABLE_NAME): string {
    // session_key: the 43-character base64url SHA-256 of the session id, compared byte for byte
    // (ascii_bin): base64url is case-sensitive, a case-insensitive collation would merge keys.
    // data: JSON is a real type on MySQL and LONGTEXT utf8mb4_bin CHECK (JSON_VALID(data)) on
    // MariaDB; either way invalid JSON is refused rather than stored.
    // Times are milliseconds since the epoch, as the library's clock counts them. The owner
    // columns and the revision come last, where createTable adds them to an older table: both
    // end up alike.
    return `CREATE TABLE IF NOT EXISTS ${quoteTableName(tableName)} (
  session_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  data JSON NOT NULL,
  created_at BIGINT NOT NULL,
  touched_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  cookie_max_age BIGINT NULL,
${ADDED_COLUMNS.map(([name, definition]) => `  ${name} ${definition},`).join('\n')}
  PRIMARY KEY (session_key),
  KEY expires_at_idx (expires_at),
  ${USER_ID_INDEX}
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;
  }

  /**
   * Creates the sessions table if it does not exist yet (see {@link MysqlStore.createTableSql}),
   * and adds the owner columns, their index and the revision column to a table created by an
   * earlier version. An
   * up-to-date table costs two reads of information_schema, and no lock. Safe from several
   * instances booting at once.
   * @throws SessionStoreError when the server refuses (no CREATE or ALTER privilege) or the
   *   upgrade waits for the table's metadata lock longer than `operationTimeout`.
   */
  async createTable(): Promise<void> {
    const sql = MysqlStore.createTableSql(this.#tableName);
    await this.#run('createTable', async () => {
      // query, not execute: DDL gains nothing from a prepared statement.
      await this.#pool.query(sql);
      await this.#addMissingColumns();
    });
  }

  /** One indexed SELECT by primary key, `expires_at > now`. */
  get(key: string): Promise<SessionRecord | undefined> {
    return this.#run('get', async (op) => {
      const rows = await op.execute<SessionRow[]>(
        statement(`SELECT ${SELECTED_COLUMNS} FROM ${this.#table} WHERE session_key = ? AND expires_at > ?`),
        [key, this.#clock()],
      );
      const row = rows[0];
      return row === undefined ? undefined : toRecord(row);
    });
  }

  /**
   * One `INSERT ... ON DUPLICATE KEY UPDATE` of the whole record, owner included: revision 1 for a
   * new key, the replaced row's revision + 1 otherwise (never back to 1, so an update made on the
   * replaced record can never match the new one).
   * @throws SessionStoreError when an owner field does not fit its column (see {@link ownerValues}).
   */
  set(key: string, record: SessionRecord): Promise<void> {
    return this.#run('set', async (op) => {
      const data = serializeDocument(record.data);
      const values = [
        data,
        record.createdAt,
        record.touchedAt,
        record.expiresAt,
        record.cookieMaxAge ?? null,
        ...ownerValues('set', record.owner),
      ];
      // The values are bound twice rather than read back with VALUES(col), which MySQL 8.0.20
      // deprecated, or a row alias, which MariaDB lacks.
      await op.execute(
        statement(
          `INSERT INTO ${this.#table} (session_key, data, created_at, touched_at, expires_at, cookie_max_age, ` +
            'user_id, user_ip, user_agent, owner_ends_by, ' +
            'revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON DUPLICATE KEY UPDATE ' +
            'data = ?, created_at = ?, touched_at = ?, expires_at = ?, cookie_max_age = ?, ' +
            'user_id = ?, user_ip = ?, user_agent = ?, owner_ends_by = ?, revision = revision + 1',
        ),
        [key, ...values, ...values],
      );
    });
  }

  /**
   * One `UPDATE` applying the patch key by key (see `#updateSql`), resolving true when it matched
   * the live row. Patches of more than 64 keys take a short locked transaction instead. With
   * `patch.revision`, the UPDATE applies only on top of that revision; when the row has moved on
   * (a concurrent request wrote it), the store reads the revision and sends the UPDATE again on
   * top of it, for as long as the operation is within `operationTimeout`. Each attempt names the
   * revision it saw, so an attempt held back and delivered after the caller gave up changes nothing.
   * @throws SessionStoreError when data would nest deeper than MariaDB's JSON limit (31 levels),
   *   a new owner does not fit its columns, or `patch.revision` is not a whole number >= 0.
   */
  update(key: string, patch: SessionPatch): Promise<boolean> {
    return this.#run('update', async (op) => {
      // Checked before anything is written, on either path.
      const owner = patch.owner === undefined ? undefined : ownerValues('update', patch.owner ?? undefined);
      const loaded = checkPatchRevision('MysqlStore', patch.revision);
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
        return this.#updateInTransaction(key, patch, owner, now, op);
      }
      const removals = padToPowerOfTwo(unset.map(jsonPath));
      const writes = padToPowerOfTwo(set);
      const keepCookieMaxAge = patch.cookieMaxAge === undefined;
      const values: (string | number | null)[] = [...removals, ...writes.flat(), patch.touchedAt, patch.expiresAt];
      if (!keepCookieMaxAge) values.push(patch.cookieMaxAge ?? null);
      if (owner !== undefined) values.push(...owner);
      values.push(key, now);
      const sql = statement(this.#updateSql(removals.length, writes.length, keepCookieMaxAge, owner === undefined, loaded !== undefined));
      // One at a time per session in this process, each naming the revision the last one left.
      return this.#updates.run(key, loaded, async (named) => {
        let revision = named;
        for (;;) {
          const result = await op.execute<ResultSetHeader>(sql, revision === undefined ? values : [...values, revision]);
          // Applied on exactly `revision`, which it advanced by one.
          if (matchedRows(result) === 1) return { result: true, ...(revision === undefined ? {} : { revision: revision + 1 }) };
          if (revision === undefined) return { result: false };
          // Nothing matched: either no live row (destroyed or expired meanwhile, never brought
          // back) or a live row at another revision (a concurrent request committed first). A plain
          // read tells which: it sees the latest committed row. mysql2 sends one statement per
          // round trip, so this cannot ride along with the UPDATE; it is paid on a conflict only.
          const rows = await op.execute<RevisionRow[]>(this.#revisionSql, [key, now]);
          if (rows.length === 0) return { result: false };
          // Still live (op.execute refuses to send once the operation timed out), so this request's
          // keys go on top of that revision, keeping both requests' changes.
          revision = toNumber(rows[0].revision, 'revision');
        }
      });
    });
  }

  /**
   * The live sessions of `userId`, oldest first: one SELECT on the user_id index (a consistent
   * read: it takes no lock). utf8mb4_bin is case-sensitive but, like every PAD SPACE collation,
   * ignores trailing spaces ("alice" = "alice "), so the rows found are kept only when their id is
   * exactly `userId`.
   */
  listByUser(userId: string): Promise<StoredSession[]> {
    return this.#run('listByUser', async (op) => {
      const rows = await op.execute<ListedRow[]>(
        statement(
          `SELECT session_key, ${SELECTED_COLUMNS} FROM ${this.#table} ` +
            'WHERE user_id = ? AND expires_at > ? ORDER BY created_at, session_key',
        ),
        [userId, this.#clock()],
      );
      return rows
        .filter((row) => toText(row.user_id, 'user_id') === userId)
        .map((row) => ({ key: toText(row.session_key, 'session_key'), record: toRecord(row) }));
    });
  }

  /** One `DELETE` by primary key. */
  destroy(key: string): Promise<void> {
    return this.#run('destroy', async (op) => {
      await op.execute(statement(`DELETE FROM ${this.#table} WHERE session_key = ?`), [key]);
    });
  }

  /**
   * One `UPDATE` of `touched_at` and `expires_at`, only while the row is live. It changes no data,
   * so it neither checks nor advances the revision; it never moves the lifetime back either
   * (GREATEST): a touch held back by a partition and delivered after a newer touch or update would
   * otherwise shorten an active session's life (or hand the row to the sweep).
   */
  touch(key: string, record: SessionRecord): Promise<void> {
    return this.#run('touch', async (op) => {
      await op.execute(
        statement(
          `UPDATE ${this.#table} FORCE INDEX (PRIMARY) SET touched_at = GREATEST(touched_at, ?), expires_at = GREATEST(expires_at, ?) ` +
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
      const deleted = await this.#run('deleteExpired', async (op) => {
        const result = await op.execute<ResultSetHeader>(sql, [now]);
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
   * With `checkRevision`, `revision = ?` is checked on the locked, latest committed row (an UPDATE
   * reads that, not a snapshot) and the revision advanced in the same statement.
   */
  #updateSql(removals: number, writes: number, keepCookieMaxAge: boolean, keepOwner: boolean, checkRevision: boolean): string {
    const shape = `${removals}/${writes}/${keepCookieMaxAge}/${keepOwner}/${checkRevision}`;
    let sql = this.#updateStatements.get(shape);
    if (sql === undefined) {
      let data = 'data';
      for (let index = 0; index < removals; index++) data = `JSON_REMOVE(${data}, ?)`;
      if (writes > 0) data = `JSON_SET(${data}, ${Array.from({ length: writes }, () => "?, JSON_EXTRACT(?, '$')").join(', ')})`;
      // GREATEST: a statement held back by a partition may still match the revision after a
      // newer touch (which leaves the revision alone); it must not move the lifetime back.
      const assignments = [...(data === 'data' ? [] : [`data = ${data}`]), 'touched_at = GREATEST(touched_at, ?)', 'expires_at = GREATEST(expires_at, ?)'];
      if (!keepCookieMaxAge) assignments.push('cookie_max_age = ?');
      if (!keepOwner) assignments.push(OWNER_ASSIGNMENTS);
      assignments.push('revision = revision + 1');
      sql =
        `UPDATE ${this.#table} FORCE INDEX (PRIMARY) SET ${assignments.join(', ')} WHERE session_key = ? AND expires_at > ?` +
        (checkRevision ? ' AND revision = ?' : '');
      this.#updateStatements.set(shape, sql);
    }
    return sql;
  }

  /**
   * A patch too large for one statement: read the data under a row lock (SELECT ... FOR UPDATE),
   * merge in JS, write it back, in one transaction on one connection. Four round trips, still
   * atomic against every other update of the session, which waits for the lock. No revision
   * check is needed here: the merge is made on the row as locked, whatever its revision (what the
   * single statement's retry does too), and no statement is sent, nor the transaction committed,
   * once the operation has timed out; a COMMIT held back by a partition still holds the row lock,
   * so no newer write can come before it.
   */
  async #updateInTransaction(
    key: string,
    patch: SessionPatch,
    owner: (string | number | null)[] | undefined,
    now: number,
    op: Operation,
  ): Promise<boolean> {
    const connection = await op.connect();
    try {
      await op.reply(connection.query('START TRANSACTION'));
      const [rows] = await op.reply(
        connection.execute<SessionRow[]>(
          statement(`SELECT data FROM ${this.#table} FORCE INDEX (PRIMARY) WHERE session_key = ? AND expires_at > ? FOR UPDATE`),
          [key, now],
        ),
      );
      const row = rows[0];
      if (row === undefined) {
        await op.reply(connection.query('ROLLBACK'));
        op.release(connection);
        return false;
      }
      const data = parseData(row.data);
      for (const name of patch.unset) delete data[name];
      for (const [name, value] of Object.entries(patch.set)) {
        Object.defineProperty(data, name, { value, writable: true, enumerable: true, configurable: true });
      }
      const values: (string | number | null)[] = [serializeDocument(data), patch.touchedAt, patch.expiresAt];
      if (patch.cookieMaxAge !== undefined) values.push(patch.cookieMaxAge);
      if (owner !== undefined) values.push(...owner);
      values.push(key);
      op.ensureLive();
      await op.reply(
        connection.execute(
          statement(
            `UPDATE ${this.#table} SET data = ?, touched_at = GREATEST(touched_at, ?), expires_at = GREATEST(expires_at, ?)` +
              (patch.cookieMaxAge === undefined ? '' : ', cookie_max_age = ?') +
              (owner === undefined ? '' : `, ${OWNER_ASSIGNMENTS}`) +
              ', revision = revision + 1 WHERE session_key = ?',
          ),
          values,
        ),
      );
      // The caller has been told this update failed once the timeout passed: do not commit it.
      op.ensureLive();
      await op.reply(connection.query('COMMIT'));
    } catch (error) {
      // Closing the connection rolls back whatever it left open, and a connection in an unknown
      // state never goes back to the pool.
      op.drop(connection);
      throw error;
    }
    op.release(connection);
    return true;
  }

  /**
   * Adds the owner columns, their index and the revision column to a table created before they
   * existed. MySQL has no `ADD COLUMN IF NOT EXISTS` (MariaDB has), so information_schema says
   * what is missing, and an instance that loses the race to add it (duplicate column or key)
   * looks again. Columns first, in one ALTER that both servers run instantly (nullable or with a
   * constant default, at the end), then the index in its own, online ALTER: together they would
   * rebuild the table.
   */
  async #addMissingColumns(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const [database, table] = this.#tableName.includes('.') ? this.#tableName.split('.') : [null, this.#tableName];
      const [columns] = await this.#pool.execute<RowDataPacket[]>(
        statement(
          'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?',
        ),
        [database, table],
      );
      const [indexes] = await this.#pool.execute<RowDataPacket[]>(
        statement(
          'SELECT 1 FROM information_schema.STATISTICS ' +
            "WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND INDEX_NAME = 'user_id_idx' LIMIT 1",
        ),
        [database, table],
      );
      const present = new Set(columns.map((column) => String(column.name).toLowerCase()));
      const alterations: string[] = [];
      const missing = ADDED_COLUMNS.filter(([name]) => !present.has(name));
      if (missing.length > 0) alterations.push(missing.map(([name, definition]) => `ADD COLUMN ${name} ${definition}`).join(', '));
      if (indexes.length === 0) alterations.push(`ADD ${USER_ID_INDEX}`);
      if (alterations.length === 0) return;
      try {
        await this.#alter(alterations);
        return;
      } catch (error) {
        if (attempt < UPGRADE_ATTEMPTS && isDuplicateColumnOrKey(error)) continue;
        throw error;
      }
    }
  }

  /**
   * Runs ALTERs on a connection of their own whose metadata-lock wait is bounded (by the operation
   * timeout, in whole seconds): an ALTER waiting for a long transaction on the table would
   * otherwise queue every session query behind it, for up to lock_wait_timeout (a year by
   * default), even after this store gave up on it. The connection is closed afterwards rather
   * than handed back with that setting.
   */
  async #alter(alterations: readonly string[]): Promise<void> {
    const connection = await this.#pool.getConnection();
    try {
      await connection.query(`SET SESSION lock_wait_timeout = ${Math.max(1, Math.ceil(this.#timeout / 1000))}`);
      for (const alteration of alterations) await connection.query(`ALTER TABLE ${this.#table} ${alteration}`);
    } finally {
      connection.destroy();
    }
  }

  /**
   * Runs one operation within the operation timeout, failures wrapped as SessionStoreError. InnoDB
   * may pick any statement as a deadlock victim (the sweep's DELETE walks the expires_at index,
   * writers lock the primary key first); the victim was rolled back whole, so it is retried, a
   * few times and only while the caller is still waiting.
   *
   * `work` sends its statements through `op` (see {@link Operation}), which refuses to send one
   * once the caller has been told the operation timed out, so nothing the caller gave up on is
   * sent behind its back. A connection still waiting for an answer at the timeout is dropped
   * rather than left holding its pool slot until the answer comes: during a partition that is
   * until it heals, and a pool whose every slot waits on the partition could not serve the
   * requests that come after the heal. What was sent on it may still reach the server (a closed
   * socket still delivers what it sent): the revision check is what makes that harmless.
   *
   * `work` itself settles at the timeout too, never later: every wait on the pool or a connection
   * goes through `op`, which rejects it once the operation timed out. mysql2's `destroy()` only
   * ends the socket (a FIN) and then ignores the socket's close, so nothing ever fails the
   * statement in flight on a dropped connection: it settles only if its answer still arrives,
   * which a partition may prevent for good (the socket closes before the answer gets through).
   * Left waiting for it, `work` would never settle either, and an update's `work` is what the
   * next update of the same session waits for (`SerializedUpdates`): that session could never be
   * written again, however healthy the pool, and after a few partitions no session could. A
   * connection the pool hands over only after the timeout (a connect into a partition lasts up to
   * the pool's `connectTimeout`) goes back to the pool unused.
   */
  #run<T>(operation: string, work: (op: Operation) => Promise<T>): Promise<T> {
    const deadline = performance.now() + this.#timeout;
    let abandoned = false;
    const busy = new Set<PoolConnection>();
    const timedOut = () => new OperationTimeoutError(`Session store ${operation} timed out after ${this.#timeout} ms`);
    // Rejects once the caller has been told the operation timed out; raced with every wait on
    // mysql2 (see above). Never awaited on its own, so its rejection is handled here.
    let abandon!: (error: unknown) => void;
    const abandonment = new Promise<never>((_, reject) => (abandon = reject));
    abandonment.catch(() => undefined);
    const live = () => !abandoned && performance.now() < deadline;
    const op: Operation = {
      // Both: the flag is set only once the timeout's rejection is handled, and the timer may
      // fire a little before performance.now() reaches the deadline (libuv counts from its
      // cached time).
      ensureLive: () => {
        if (!live()) throw timedOut();
      },
      reply: (sent) => Promise.race([sent, abandonment]),
      connect: async () => {
        op.ensureLive();
        const handedOver = this.#pool.getConnection();
        const connection = await op.reply(handedOver).catch((error: unknown): never => {
          // Given up on while the pool had no connection for it yet: the one it hands over later
          // is unused, so it goes back to the pool as it is (nothing to do if none comes).
          handedOver.then((late) => late.release(), () => undefined);
          throw error;
        });
        if (!live()) {
          // Handed over at or after the deadline: unused, so it goes back to the pool as it is.
          connection.release();
          throw timedOut();
        }
        busy.add(connection);
        return connection;
      },
      release: (connection) => {
        if (busy.delete(connection)) connection.release();
      },
      drop: (connection) => {
        // Once: the timeout drops what is busy, and the work's own error path may drop it again.
        if (busy.delete(connection)) connection.destroy();
      },
      execute: async <R extends ResultSetHeader | RowDataPacket[]>(sql: Statement, values: (string | number | null)[]): Promise<R> => {
        const connection = await op.connect();
        try {
          const [result] = await op.reply(connection.execute<R>(sql, values));
          return result;
        } finally {
          // As pool.execute does, a connection goes back after an error too (mysql2 itself
          // removes one whose error was fatal); one dropped at the timeout is not ours any more.
          op.release(connection);
        }
      },
    };
    const running = withOperationTimeout(operation, this.#timeout, async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await work(op);
        } catch (error) {
          if (attempt < DEADLOCK_ATTEMPTS && isDeadlock(error) && !abandoned && performance.now() < deadline) continue;
          throw toSessionStoreError(operation, error);
        }
      }
    });
    return running.catch((error: unknown) => {
      abandoned = true;
      for (const connection of busy) op.drop(connection);
      // After the drops: what `work` still waits on now rejects, and its cleanup finds nothing
      // left to hand back.
      abandon(error);
      throw error;
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

/** Why `tableName` cannot be used, or undefined when it can. */
function tableNameProblem(tableName: unknown): string | undefined {
  const parts = typeof tableName === 'string' ? tableName.split('.') : [];
  if (parts.length >= 1 && parts.length <= 2 && parts.every((part) => IDENTIFIER.test(part))) return undefined;
  return (
    `MysqlStore tableName must be a plain identifier, optionally qualified by a database ` +
    `(letters, digits and _, at most 64 each, not starting with a digit; got ${JSON.stringify(tableName)})`
  );
}

/** @throws SessionConfigError when `tableName` is not a plain (optionally qualified) identifier. */
function quoteTableName(tableName: string): string {
  const problem = tableNameProblem(tableName);
  if (problem) throw new SessionConfigError([problem]);
  const parts = tableName.split('.');
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

/**
 * The owner columns' values, NULL for no owner.
 * @throws SessionStoreError when a field does not fit its column, or holds a lone surrogate
 *   (utf8mb4 has no encoding for it: it would come back as U+FFFD, another user id).
 */
function ownerValues(operation: string, owner: SessionOwner | undefined): (string | number | null)[] {
  if (owner === undefined) return [null, null, null, null];
  const { userId, ip, userAgent } = checkSessionOwner(owner, `MysqlStore ${operation}`);
  return [userId, ip ?? null, userAgent ?? null, owner.endsBy];
}

/** A row as a record; owner fields left NULL stay absent rather than `undefined`. */
function toRecord(row: SessionRow): SessionRecord {
  const cookieMaxAge = row.cookie_max_age == null ? undefined : toNumber(row.cookie_max_age, 'cookie_max_age');
  return {
    data: parseData(row.data),
    createdAt: toNumber(row.created_at, 'created_at'),
    touchedAt: toNumber(row.touched_at, 'touched_at'),
    expiresAt: toNumber(row.expires_at, 'expires_at'),
    ...(cookieMaxAge === undefined ? {} : { cookieMaxAge }),
    // NOT NULL DEFAULT 0 as createTable adds it; a column added by hand as nullable reads the same.
    revision: row.revision == null ? 0 : toNumber(row.revision, 'revision'),
    // The store writes user_id and owner_ends_by together; a row edited by hand with only one of
    // them reads as anonymous rather than with an owner that ends in 1970.
    ...(row.user_id == null || row.owner_ends_by == null
      ? {}
      : {
          owner: {
            userId: toText(row.user_id, 'user_id'),
            ...(row.user_ip == null ? {} : { ip: toText(row.user_ip, 'user_ip') }),
            ...(row.user_agent == null ? {} : { userAgent: toText(row.user_agent, 'user_agent') }),
            endsBy: toNumber(row.owner_ends_by, 'owner_ends_by'),
          },
        }),
  };
}

/**
 * A patch's revision, as `get` returned it: a whole number. Checked before anything is sent, so a
 * bad value is a clear error rather than a comparison that never matches.
 * @throws SessionStoreError when it is not a whole number >= 0.
 */

function isDuplicateColumnOrKey(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return code === 'ER_DUP_FIELDNAME' || code === 'ER_DUP_KEYNAME';
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

/** A text column: a string, or a Buffer when the pool or the column's character set says binary. */
function toText(value: unknown, column: string): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  throw new SessionStoreError(`Session store row has a non-text ${column}`);
}

/** mysql2 gives BIGINT as a number, or as a string with `bigNumberStrings` / `supportBigNumbers`. */
function toNumber(value: unknown, column: string): number {
  const number = typeof value === 'number' ? value : typeof value === 'string' || typeof value === 'bigint' ? Number(value) : Number.NaN;
  if (!Number.isFinite(number)) throw new SessionStoreError(`Session store row has a non-numeric ${column}`);
  return number;
}

import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { RedisArgument } from 'redis';
import { SessionConfigError, SessionStoreError, toSessionStoreError } from '../core/errors';
import { checkOwnerUserId, checkSessionOwner } from '../core/session-owner';
import type { SessionOwner, SessionPatch, SessionRecord, SessionStore, StoredSession } from '../core/session-store';
import { InvalidatedCache } from './invalidated-cache';
import { ReadBarrier } from './read-barrier';
import { checkPatchRevision, SerializedUpdates } from './serialized-updates';
import { readOperationTimeout, OperationTimeoutError, withOperationTimeout } from './operation-timeout';

/** Arguments of node-redis's `eval` / `evalSha`. */
interface ScriptArguments {
  keys: RedisArgument[];
  arguments: RedisArgument[];
}

/** Per-call options node-redis accepts through `withCommandOptions`. */
interface RedisStoreCommandOptions {
  abortSignal: AbortSignal;
}

/** The part of node-redis's client-side cache the store uses: dropping one key after a write. */
interface RedisStoreClientSideCache {
  invalidate(key: RedisArgument | null): void;
}

/**
 * The part of a node-redis (`redis` v5+) client the store uses. `createClient()`,
 * `createCluster()`, `createClientPool()` and `createSentinel()` all return objects that fit, with
 * any modules, scripts, RESP version or type mapping (the store reads Buffers, Maps and arrays as
 * well as the default strings and objects).
 */
export interface RedisStoreClient {
  hGetAll(key: RedisArgument): Promise<unknown>;
  del(key: RedisArgument): Promise<unknown>;
  evalSha(sha1: RedisArgument, options: ScriptArguments): Promise<unknown>;
  eval(script: RedisArgument, options: ScriptArguments): Promise<unknown>;
  /** Reads a user's index (`listByUser`). */
  zRange(key: RedisArgument, start: number, stop: number): Promise<unknown>;
  /** Drops index entries whose session is gone (`listByUser`). */
  zRem(key: RedisArgument, members: RedisArgument[]): Promise<unknown>;
  withCommandOptions(options: RedisStoreCommandOptions): RedisStoreClient;
  /** Present when the client was created with `clientSideCache` (RESP3). */
  readonly clientSideCache?: RedisStoreClientSideCache;
  /** The options the client was created with (read for `localCache`). */
  readonly options?: { readonly RESP?: number; readonly emitInvalidate?: boolean } | undefined;
  /** Client events (read for `localCache`: `invalidate`, and the connection's ups and downs). */
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
  off?(event: string, listener: (...args: unknown[]) => void): unknown;
  /**
   * The probe of a suspect connection (see {@link RedisStore}). Read, with `isReady` and
   * `socketEpoch`, on a single-connection client (`createClient()`) only.
   */
  ping?(): Promise<unknown>;
  /** Whether the client's connection is up (node-redis: handshake done, not reconnecting). */
  readonly isReady?: boolean;
  /**
   * Counts the connections the client has made ready (node-redis `createClient()` only): the
   * store supervises the connection of a client that has it.
   */
  readonly socketEpoch?: number;
}

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * A node-redis client the application created (`createClient()` from `redis`, or
   * `createCluster()`), connected or connecting. It stays the application's: the store never
   * connects, quits or closes it.
   *
   * Create it with `RESP: 3` and `clientSideCache` to serve reads of unchanged sessions from the
   * instance's memory: Redis then tells the client (CLIENT TRACKING) the moment any instance
   * changes, destroys or expires a session it holds, and node-redis drops its copy, as it does
   * with the whole cache when the connection drops. Each session read is otherwise one round trip.
   */
  client: RedisStoreClient;
  /**
   * Prepended to every session key (`sess:<sha256 of the session id>`). Use one per application
   * sharing a Redis database. Avoid `{...}` in it on a Redis Cluster: a hash tag would put every
   * session in one slot.
   * @default 'sess:'
   */
  prefix?: string;
  /**
   * Longest time one store operation may take, in milliseconds, before it rejects with a
   * `SessionStoreError` (the request answers 503). node-redis queues commands while it reconnects,
   * so without this bound a request would hang for as long as Redis is away. A command still
   * queued when the time is up is withdrawn, so it does not run later behind the client's back.
   *
   * On a `createClient()` client, an operation that times out while the connection is up makes
   * the connection suspect (see {@link RedisStore}, "A connection that stops answering"): the
   * store then sends no command onto it but one PING, so a client made with
   * `socket.socketTimeout` drops it and reconnects.
   * @default 2000
   */
  operationTimeout?: number;
  /**
   * Answers reads of sessions that have not changed from this instance's memory instead of
   * reading the hash again. Needs a client made with `createClient({ RESP: 3, emitInvalidate: true })`:
   * Redis then tracks the keys this connection read (`CLIENT TRACKING`) and tells it when any
   * instance changes, destroys or expires one, and the store drops its copy; it drops all of them
   * when the connection drops. Lighter than node-redis's own `clientSideCache` (which clones
   * every answer), and on a single client only (not a cluster). `true` keeps up to 10,000
   * sessions; `{ maxEntries }` sets the bound.
   *
   * Security: a copy is served only once a PING, written after the read began and shared by
   * every read of that turn of the event loop, has been answered: Redis delivers the
   * invalidations it queued for the connection before that answer, so a logout or a revocation
   * on another instance that had answered before this request arrived is always seen, however
   * late its message would otherwise have come, and a partition (which holds the invalidations
   * too) serves no copy at all: the read times out (503) and the connection becomes suspect.
   * The cache saves Redis the hash read and its transfer, not the round trip; under load one PING
   * confirms many reads.
   * @default false
   */
  localCache?: boolean | { readonly maxEntries?: number };
}

/** Sessions a `localCache: true` keeps at most. */
export const DEFAULT_LOCAL_CACHE_ENTRIES = 10_000;

// Layout: one hash per session. Data keys live in fields named `d:<key>` (JSON values), apart
// from the metadata fields, so no data key can collide with them.
const CREATED_AT = 'c';
const TOUCHED_AT = 't';
const EXPIRES_AT = 'e';
const COOKIE_MAX_AGE = 'm';
// The record's revision (SessionRecord.revision): advanced by the set and update scripts only, so
// the scripts can refuse a write made on a revision the hash has moved past. A hash written before
// revisions existed has no such field and counts as revision 0.
const REVISION = 'r';
const DATA_FIELD = 'd:';
// The owner of a signed-in session, one metadata field each, so that an absent ip or user agent
// stays absent (no field) rather than coming back as an empty string.
const OWNER_USER_ID = 'u';
const OWNER_IP = 'i';
const OWNER_USER_AGENT = 'a';
const OWNER_ENDS_BY = 'b';
const OWNER_FIELDS = [OWNER_USER_ID, OWNER_IP, OWNER_USER_AGENT, OWNER_ENDS_BY] as const;

// Each user's sessions are also listed in a sorted set of their store keys (the index), at
// `<prefix>user:{<base64url of the user id's UTF-8>}`. ':' and '{' never occur in a store key
// (base64url), so it cannot collide with a session hash; base64url never contains '{' or '}', so
// on a cluster the braces make a hash tag that keeps all of one user's index in one slot whatever
// the id holds. The index is only a hint: listByUser trusts the session hashes, not the index.
const USER_INDEX = 'user:';

// Shared Lua: runs a command over ARGV[first..last] in chunks, since unpack() of a very long
// argument list overflows Lua's stack. Chunks have an even length, so HSET pairs stay whole.
const CALL_CHUNKED = `
local function call_chunked(command, key, first, last)
  local i = first
  while i <= last do
    local j = math.min(i + 999, last)
    redis.call(command, key, unpack(ARGV, i, j))
    i = j + 1
  end
end
`;

// A record that is absent or whose expiresAt has passed (by the application's clock, which is the
// one the library judges expiry by) is never written to, so a slower request cannot bring back a
// session that was destroyed or has expired.
const LIVE_CHECK = `
local e = redis.call('HGET', KEYS[1], '${EXPIRES_AT}')
if not e or tonumber(e) <= tonumber(ARGV[1]) then return 0 end
`;

// The revision a hash holds; 0 for a hash written before revisions (or no hash at all).
const READ_REVISION = `
local function revision_of(key)
  return tonumber(redis.call('HGET', key, '${REVISION}')) or 0
end
`;

/**
 * KEYS[1] key; ARGV: expiresAt (whole ms), then field/value pairs. Replaces the whole hash, one
 * revision past the one it replaces (read before the DEL, so a revision never repeats while the
 * key lives). Returns the new revision. A key holding something other than a hash is replaced
 * from revision 1, as before revisions existed (HGET on it would fail with WRONGTYPE).
 */
const SET_SCRIPT = `${CALL_CHUNKED}${READ_REVISION}
local revision = 1
if redis.call('TYPE', KEYS[1]).ok == 'hash' then revision = revision_of(KEYS[1]) + 1 end
redis.call('DEL', KEYS[1])
call_chunked('HSET', KEYS[1], 2, #ARGV)
redis.call('HSET', KEYS[1], '${REVISION}', revision)
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return revision
`;

/**
 * KEYS[1] key; ARGV: now, expiresAt (whole ms), cookie mode ('=' keep, '-' remove, '+' set),
 * cookieMaxAge, the revision the patch was made on ('' for none: applied on top of any), number
 * of unset fields n, the n unset fields, then field/value pairs to write (touchedAt and expiresAt
 * among them). The revision is compared and advanced in the same atomic step as the write: a
 * script delivered after the hash moved on (held by a partition after the request gave up)
 * changes nothing. Returns the new revision (>= 1) when applied, 0 when no live record exists,
 * and -(current revision + 1) when the hash is at another revision, so that a writer still
 * within its operation timeout can try again on top of it without reading the hash first.
 */
const UPDATE_SCRIPT = `${CALL_CHUNKED}${LIVE_CHECK}${READ_REVISION}
local revision = revision_of(KEYS[1])
if ARGV[5] ~= '' and tonumber(ARGV[5]) ~= revision then return -(revision + 1) end
local touched = redis.call('HGET', KEYS[1], '${TOUCHED_AT}')
local unset = tonumber(ARGV[6])
call_chunked('HDEL', KEYS[1], 7, 6 + unset)
if ARGV[3] == '-' then redis.call('HDEL', KEYS[1], '${COOKIE_MAX_AGE}')
elseif ARGV[3] == '+' then redis.call('HSET', KEYS[1], '${COOKIE_MAX_AGE}', ARGV[4]) end
call_chunked('HSET', KEYS[1], 7 + unset, #ARGV)
redis.call('HSET', KEYS[1], '${REVISION}', revision + 1)
-- Never backwards: a script held back by a partition may still match the revision after a
-- newer touch (which leaves the revision alone); the later lifetime and its TTL are kept.
if tonumber(e) > tonumber(redis.call('HGET', KEYS[1], '${EXPIRES_AT}')) then
  redis.call('HSET', KEYS[1], '${EXPIRES_AT}', e)
else
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
if touched and tonumber(touched) > tonumber(redis.call('HGET', KEYS[1], '${TOUCHED_AT}')) then
  redis.call('HSET', KEYS[1], '${TOUCHED_AT}', touched)
end
return revision + 1
`;

/**
 * KEYS[1] key; ARGV: now, expiresAt (whole ms), touchedAt, expiresAt. Never creates the record,
 * and neither checks nor advances the revision (a touch changes no data). It never moves the
 * lifetime back either: a touch carries no revision, and one held by a partition and delivered
 * after a newer request extended the session would otherwise shorten it again (an idle timeout
 * measured from an older touchedAt, a TTL ending early), signing the user out too soon. A touch
 * older than the stored touchedAt (or as old, and not extending the expiry) is dropped.
 */
const TOUCH_SCRIPT = `${LIVE_CHECK}
local touched = tonumber(redis.call('HGET', KEYS[1], '${TOUCHED_AT}'))
local t, x = tonumber(ARGV[3]), tonumber(ARGV[4])
if touched and (t < touched or (t == touched and x <= tonumber(e))) then return 0 end
redis.call('HSET', KEYS[1], '${TOUCHED_AT}', ARGV[3], '${EXPIRES_AT}', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`;

/**
 * KEYS[1] a user's index; ARGV: now, the session's end (`owner.endsBy`, ms), the index's lifetime
 * from now (whole ms), store key. Adds the session with its end as score, first dropping entries
 * whose end has passed: a user who signs in again and again keeps the index alive, so without
 * this it would grow with every session they ever had. The index's expiry is only ever moved
 * later: touches extend sessions without telling the index, so it must last as long as the
 * longest-lived of them can. Relative times (PTTL / PEXPIRE) keep Redis's clock out of it.
 */
const INDEX_ADD_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`;

/**
 * KEYS[1] key. HGETALL as a script: the answer never comes from a client-side cache, which on a
 * cluster may still hold a copy that another node's invalidation has not reached yet.
 */
const READ_SCRIPT = `return redis.call('HGETALL', KEYS[1])`;

interface LuaScript {
  readonly source: string;
  readonly sha1: string;
}

function luaScript(source: string): LuaScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

const SCRIPTS = {
  set: luaScript(SET_SCRIPT),
  update: luaScript(UPDATE_SCRIPT),
  touch: luaScript(TOUCH_SCRIPT),
  indexAdd: luaScript(INDEX_ADD_SCRIPT),
  read: luaScript(READ_SCRIPT),
};

/** An abort signal and the client that sends commands under it (see RedisStore's #run). */
interface Abortable {
  readonly controller: AbortController;
  readonly client: RedisStoreClient;
}

const REQUIRED_CLIENT_METHODS = ['hGetAll', 'del', 'evalSha', 'eval', 'withCommandOptions', 'zRange', 'zRem'] as const;

/**
 * Keeps sessions in Redis, one hash per session with a native expiry, through a node-redis client
 * the application created. Every operation is one round trip (plus one, once per server, when a
 * script is first loaded); `set`, `update` and `touch` run as Lua scripts on the one key, so they
 * are atomic (also on a Redis Cluster) and `update` / `touch` never recreate a session that was
 * destroyed or has expired meanwhile. Signed-in sessions are also listed in a per-user index (a
 * sorted set, kept by its own single-key commands): writing an owner costs one more round trip.
 *
 * Each hash carries a revision (`SessionRecord.revision`) that `set` and `update` advance inside
 * their scripts. An update made on a revision (`SessionPatch.revision`) applies only on top of
 * it, so a script Redis receives after the request gave up on it (a partition that healed late)
 * never overwrites a newer write; an update that meets a newer revision while still within the
 * operation timeout applies on top of it with one more round trip.
 *
 * A connection that stops answering: node-redis keeps writing commands onto a connection until
 * its socket closes, and a partition closes nothing. Its `socketTimeout` is an idle timeout, so
 * as long as requests keep writing into the dead connection it never fires, and the client waits
 * for whatever the network eventually delivers. On a `createClient()` client the store therefore
 * treats the connection as suspect once an operation times out while it is up (with `localCache`,
 * a read's confirming PING counts: see {@link RedisStoreOptions.localCache}): it drops its local cache,
 * sends one PING, and writes nothing else onto the connection. Operations wait for that PING
 * (within their own timeout); once it has gone unanswered for a whole operation timeout they fail
 * at once with a `SessionStoreError` (503) instead. The PING's answer (a slow server, not a dead
 * one) ends the suspicion, and so does its failure (the connection dropped: commands then queue
 * for the next one, as node-redis does while reconnecting). With nothing written, the socket
 * goes idle and a client made with `socketTimeout` drops it and reconnects, with a
 * `reconnectStrategy` that allows it after a socket timeout (node-redis's default does not). A
 * healthy connection never sees any of this: the store only reads a field per operation that
 * goes to Redis. The client stays the application's;
 * the store never closes or reconnects it. Commands the application itself sends on the same
 * client keep the socket busy, so give the store a client of its own. Recommended client options:
 * with them, the frozen connection is dropped about `operationTimeout` + `socketTimeout` into a
 * partition, and once a partition has lasted that long the first write after it heals waits at
 * most about `socketTimeout` + 50 ms (the rest of one hung connection attempt, then the retry
 * `redisReconnectStrategy` makes at once after a timed-out one), whenever the bytes held by
 * the old connection arrive:
 *
 * ```ts
 * createClient({
 *   url,
 *   // A PING every 200 ms keeps a healthy but quiet connection from reaching socketTimeout;
 *   // node-redis sends the next one only once the last was answered, so a dead connection
 *   // still goes quiet.
 *   pingInterval: 200,
 *   socket: {
 *     // Idle time after which a connection (or a handshake that hangs) is dropped: above the
 *     // ping interval and the slowest command, short enough to leave a dead one fast.
 *     socketTimeout: 400,
 *     // A connect that does not complete (a SYN lost in a partition) is abandoned as fast.
 *     connectTimeout: 400,
 *     // The library's: at once after a timed-out attempt, a capped jittered backoff after
 *     // refusals; node-redis's default waits up to 2.2 s and gives up after a socket timeout.
 *     reconnectStrategy: redisReconnectStrategy,
 *   },
 * });
 * ```
 *
 * @throws {SessionConfigError} from the constructor when the options are invalid.
 * @example
 * const client = createClient({ url: process.env.REDIS_URL });
 * client.on('error', (error) => logger.error(error));
 * await client.connect();
 * SessionModule.forRoot({ secret, store: new RedisStore({ client }) });
 */
export class RedisStore implements SessionStore {
  readonly #client: RedisStoreClient;
  readonly #updates: SerializedUpdates;
  readonly #prefix: string;
  readonly #operationTimeout: number;
  /** Fields of session hashes read through a tracking connection (`localCache`). */
  readonly #cache: InvalidatedCache<Readonly<Record<string, unknown>>> | undefined;
  readonly #detachCache: () => void = () => undefined;
  /** The client with the current abort signal (see {@link #run}); replaced after each abort. */
  #abortable: Abortable | undefined;
  /** Whether the client is one connection the store watches (see "A connection that stops answering"). */
  readonly #supervised: boolean;
  /** The PING in flight, at most one; it resolves when it settles, answered or not. */
  #ping: Promise<void> | undefined;
  /** While the connection is suspect: the PING that decides it, and when it became suspect. */
  #suspect: { readonly probe: Promise<void>; readonly since: number } | undefined;
  /** Confirms a cached copy is current before it is served (`localCache`). */
  readonly #barrier: ReadBarrier | undefined;

  constructor(options: RedisStoreOptions) {
    const problems: string[] = [];
    if (options === null || typeof options !== 'object') {
      throw new SessionConfigError(['RedisStore options: must be an object with at least `client`']);
    }
    const client = options.client as unknown as Record<string, unknown> | null | undefined;
    if (client === null || typeof client !== 'object') {
      problems.push('RedisStore client: required, a node-redis client (createClient() from "redis" v5 or later)');
    } else {
      const missing = REQUIRED_CLIENT_METHODS.filter((method) => typeof client[method] !== 'function');
      if (missing.length > 0) {
        problems.push(
          `RedisStore client: must be a node-redis client from "redis" v5 or later (missing ${missing.join(', ')}); ` +
            'ioredis and node-redis v4 clients are not supported',
        );
      }
    }
    const prefix = options.prefix ?? 'sess:';
    if (typeof prefix !== 'string') {
      problems.push(`RedisStore prefix: must be a string such as 'sess:' (got ${typeof prefix})`);
    }
    const operationTimeout = readOperationTimeout('RedisStore', options.operationTimeout, problems);
    const cacheSize = localCacheSize(options.localCache, options.client, problems);
    if (problems.length > 0) throw new SessionConfigError(problems);
    this.#client = options.client;
    this.#prefix = prefix;
    this.#operationTimeout = operationTimeout;
    this.#updates = new SerializedUpdates(this.#operationTimeout);
    this.#supervised = isSingleConnection(options.client);
    if (cacheSize !== undefined) {
      const cache = new InvalidatedCache<Readonly<Record<string, unknown>>>(cacheSize);
      const client = options.client;
      const onInvalidate = (key: unknown): void => cache.invalidate(key === null || key === undefined ? null : asText(key));
      // Invalidations cannot arrive while the connection is down: forget everything at once.
      const onConnectionChange = (): void => cache.invalidate(null);
      client.on!('invalidate', onInvalidate);
      for (const event of CONNECTION_EVENTS) client.on!(event, onConnectionChange);
      this.#cache = cache;
      this.#barrier = new ReadBarrier(() => client.ping!());
      this.#detachCache = () => {
        client.off?.('invalidate', onInvalidate);
        for (const event of CONNECTION_EVENTS) client.off?.(event, onConnectionChange);
        cache.invalidate(null);
      };
    }
  }

  /** The Redis key a session key is kept under: the prefix, then the key as given. */
  #redisKey(key: string): string {
    return `${this.#prefix}${key}`;
  }

  get(key: string): Promise<SessionRecord | undefined> {
    const redisKey = this.#redisKey(key);
    return this.#run('get', (client) => this.#read(client, redisKey));
  }

  /** Reads a session hash (HGETALL), keeping its fields in the local cache (when on). */
  async #load(client: RedisStoreClient, redisKey: string): Promise<SessionRecord | undefined> {
    const cache = this.#cache;
    const token = cache?.beginFill(redisKey);
    let fields: Record<string, unknown>;
    try {
      fields = hashFields(await client.hGetAll(redisKey));
    } catch (error) {
      if (token) cache!.abandonFill(redisKey, token);
      throw error;
    }
    const record = toRecord(fields, Date.now());
    if (token) cache!.completeFill(redisKey, token, fields);
    return record;
  }

  set(key: string, record: SessionRecord): Promise<void> {
    return this.#run('set', async (client) => {
      const expiresAt = checkTimestamp('expiresAt', record.expiresAt);
      const owner = record.owner === undefined ? undefined : checkSessionOwner(record.owner, 'RedisStore set');
      const redisKey = this.#redisKey(key);
      // Already expired: leave nothing behind (a PEXPIREAT in the past would delete it too, but by
      // Redis's clock, which may lag the application's).
      if (expiresAt <= Date.now()) {
        await client.del(redisKey);
        return;
      }
      const fields: string[] = [
        CREATED_AT, String(checkTimestamp('createdAt', record.createdAt)),
        TOUCHED_AT, String(checkTimestamp('touchedAt', record.touchedAt)),
        EXPIRES_AT, String(expiresAt),
      ];
      if (record.cookieMaxAge !== undefined) {
        fields.push(COOKIE_MAX_AGE, String(checkTimestamp('cookieMaxAge', record.cookieMaxAge)));
      }
      if (owner !== undefined) fields.push(...ownerPairs(owner));
      for (const [name, value] of Object.entries(record.data)) {
        const json = JSON.stringify(value) as string | undefined;
        // Like JSON.stringify of the whole object: undefined, functions and symbols are dropped.
        if (json !== undefined) fields.push(DATA_FIELD + name, json);
      }
      const write = () => this.#eval(client, SCRIPTS.set, redisKey, [expiryArgument(expiresAt), ...fields]);
      // Replacing another user's session leaves that user's index entry behind: listByUser
      // drops it when it finds the hash names someone else.
      if (owner === undefined) await write();
      else await this.#writeOwned(client, key, owner, expiresAt, write);
    }, key);
  }

  /**
   * Applies the patch in one script. With `patch.revision`, the script applies it only on top of
   * that revision; when the hash has moved on (a concurrent request), the store tries again on
   * top of the revision the script reported, one round trip per attempt, for as long as the
   * operation timeout allows and never after it: a script that reaches Redis after the request
   * gave up (503) finds a revision it did not name and changes nothing.
   */
  update(key: string, patch: SessionPatch): Promise<boolean> {
    return this.#run('update', async (client, live) => {
      const expiresAt = checkTimestamp('expiresAt', patch.expiresAt);
      const touchedAt = checkTimestamp('touchedAt', patch.touchedAt);
      const unset = patch.unset.map((name) => DATA_FIELD + name);
      const pairs: string[] = [TOUCHED_AT, String(touchedAt), EXPIRES_AT, String(expiresAt)];
      for (const [name, value] of Object.entries(patch.set)) {
        const json = JSON.stringify(value) as string | undefined;
        if (json === undefined) unset.push(DATA_FIELD + name);
        else pairs.push(DATA_FIELD + name, json);
      }
      const cookieMaxAge = patch.cookieMaxAge;
      const cookie =
        cookieMaxAge === undefined ? ['=', ''] : cookieMaxAge === null ? ['-', ''] : ['+', String(checkTimestamp('cookieMaxAge', cookieMaxAge))];
      // A new owner replaces the old one whole (its ip or user agent may be absent), and the
      // script deletes before it writes: the owner's fields go to both lists.
      const owner = patch.owner === undefined || patch.owner === null ? undefined : checkSessionOwner(patch.owner, 'RedisStore update');
      if (patch.owner !== undefined) unset.push(...OWNER_FIELDS);
      if (owner !== undefined) pairs.push(...ownerPairs(owner));
      const redisKey = this.#redisKey(key);
      const attempt = (revision: string) =>
        this.#eval(client, SCRIPTS.update, redisKey, [
          String(Date.now()),
          expiryArgument(expiresAt),
          ...cookie,
          revision,
          String(unset.length),
          ...unset,
          ...pairs,
        ]);
      const loaded = checkPatchRevision('RedisStore', patch.revision);
      // One at a time per session in this process, each naming the revision the last one left.
      const write = (): Promise<number> =>
        this.#updates.run(key, loaded, async (named) => {
          let revision = named === undefined ? '' : String(named);
          for (;;) {
            live(); // it may have waited for the previous update of this session
            const reply = Number(String(await attempt(revision)));
            if (!Number.isInteger(reply)) throw new SessionStoreError(`RedisStore: unexpected update script reply (${String(reply)})`);
            // Applied (the new revision), or no live record (0).
            if (reply >= 0) return { result: reply, ...(reply > 0 ? { revision: reply } : {}) };
            // The hash is live at another revision: a concurrent request wrote it after this one
            // read it. This request is still within its operation timeout (live() throws once it
            // is not), so it applies its keys on top of that revision, keeping both requests'
            // changes. The retry names the revision it saw, so if it is itself held up and lands
            // late, it too changes nothing.
            revision = String(-reply - 1);
          }
        });
      // An owner removed (null) or replaced leaves the previous user's index entry behind, for
      // listByUser to drop: removing it here would need the old owner, one more round trip.
      const reply = owner === undefined ? await write() : await this.#writeOwned(client, key, owner, expiresAt, write);
      return applied(reply);
    }, key);
  }

  destroy(key: string): Promise<void> {
    return this.#run('destroy', async (client) => {
      await client.del(this.#redisKey(key));
    }, key);
  }

  touch(key: string, record: SessionRecord): Promise<void> {
    return this.#run('touch', async (client) => {
      const expiresAt = checkTimestamp('expiresAt', record.expiresAt);
      const touchedAt = checkTimestamp('touchedAt', record.touchedAt);
      await this.#eval(client, SCRIPTS.touch, this.#redisKey(key), [
        String(Date.now()),
        expiryArgument(expiresAt),
        String(touchedAt),
        String(expiresAt),
      ]);
    }, key);
  }

  /**
   * Reads the user's index, then every session in it (HGETALL each, in parallel: one command per
   * key, so a cluster routes each to its node), and keeps the live ones the hash says are the
   * user's. The index is a hint, the hashes are the truth: entries whose session is gone, expired
   * or now someone else's are dropped from the index on the way.
   */
  listByUser(userId: string): Promise<StoredSession[]> {
    return this.#run('listByUser', async (client) => {
      checkOwnerUserId(userId, 'RedisStore listByUser');
      const indexKey = this.#indexKey(userId);
      const keys = textList(await client.zRange(indexKey, 0, -1));
      const records = await Promise.all(keys.map((key) => this.#read(client, this.#redisKey(key))));
      const found: StoredSession[] = [];
      const stale: string[] = [];
      for (const [index, key] of keys.entries()) {
        const record = records[index];
        if (record?.owner?.userId === userId) found.push({ key, record });
        else stale.push(key);
      }
      if (stale.length > 0) found.push(...(await this.#prune(client, indexKey, userId, stale)));
      return found.sort((a, b) => a.record.createdAt - b.record.createdAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    });
  }

  /**
   * Resolves without closing the client: it belongs to the application, which closes it. Stops
   * listening to it (`localCache`).
   */
  close(): Promise<void> {
    this.#detachCache();
    return Promise.resolve();
  }

  /**
   * Sends a PING unless one is on its way already; resolves once it settles. An answer shows the
   * connection delivers again, and that every invalidation Redis queued before it has arrived (a
   * connection delivers in order); a failure, that the connection dropped and node-redis is
   * reconnecting. Either ends a suspicion.
   */
  #sendPing(): Promise<void> {
    let ping = this.#ping;
    if (ping === undefined) {
      const settled = (): void => {
        if (this.#ping === ping) this.#ping = undefined;
        if (this.#suspect?.probe === ping) this.#suspect = undefined;
      };
      ping = this.#ping = this.#client.ping!().then(settled, settled);
    }
    return ping;
  }

  /**
   * The connection is up but did not answer within an operation timeout: a partition (which
   * also holds Redis's invalidation messages), or a server busy for that long. Drops the local
   * cache and PINGs; until the PING settles, no other command is written onto the connection,
   * so that its socket can go idle and node-redis's `socketTimeout` can drop it.
   */
  #suspectConnection(): void {
    if (!this.#supervised || this.#suspect !== undefined || this.#client.isReady !== true) return;
    this.#cache?.invalidate(null);
    // node-redis's own client-side cache waits on the same held invalidations.
    this.#client.clientSideCache?.invalidate(null);
    this.#suspect = { probe: this.#sendPing(), since: performance.now() };
  }

  /**
   * Runs one operation within the operation timeout, every failure wrapped in a
   * SessionStoreError. When the time is up, the abort signal withdraws a command node-redis still
   * holds in its offline queue: otherwise a write the client was told had failed (503) would be
   * applied when Redis comes back, possibly over a newer one.
   *
   * After a write (`writtenKey`), this instance's client-side cache drops the key itself, whether
   * the write succeeded or not: Redis's invalidation message for the writer's own connection may
   * arrive after the reply, and the next request must not read the old copy meanwhile.
   */
  async #run<T>(
    operation: string,
    body: (client: RedisStoreClient, live: () => void) => Promise<T>,
    writtenKey?: string,
  ): Promise<T> {
    const suspect = this.#suspect;
    if (suspect !== undefined && performance.now() - suspect.since >= this.#operationTimeout) {
      // The probe has gone unanswered for a whole operation timeout: a partition, not a slow
      // reply. Failing at once keeps requests from piling up behind it.
      throw new SessionStoreError(
        `Session store ${operation} failed: the Redis connection has not answered for ${this.#operationTimeout} ms or more ` +
          '(no command is sent onto it until it answers or the client reconnects)',
      );
    }
    const deadline = performance.now() + this.#operationTimeout;
    // One signal shared by the operations in flight, not one per operation: node-redis makes a
    // new client object per `withCommandOptions()`, which costs more than the Redis read it wraps
    // when the read is answered from the client-side cache. A timeout withdraws every command
    // still queued under that signal: they all wait on the same unreachable connection. Taken
    // when the operation starts sending (after a suspect connection's probe), not before: a
    // timeout meanwhile may have withdrawn the signal the operation would otherwise hold.
    let abortable: Abortable | undefined;
    // For an operation that sends more than one command in turn (update's retries): throws once
    // the operation is past its timeout. The timer's rejection aborts the signal in the same turn
    // (before any reply could start a retry), and the clock check covers a timer running late,
    // so no command of a timed-out operation is ever sent.
    const live = (): void => {
      if (abortable?.controller.signal.aborted === true || performance.now() >= deadline) {
        throw new OperationTimeoutError(`Session store ${operation} timed out after ${this.#operationTimeout} ms`);
      }
    };
    const start = (): Promise<T> => {
      abortable = this.#abortable ??= this.#newAbortable();
      return body(abortable.client, live);
    };
    try {
      return await withOperationTimeout(
        operation,
        this.#operationTimeout,
        // A suspect connection: wait for its probe rather than write behind it (see #suspectConnection).
        suspect === undefined
          ? start
          : () =>
              suspect.probe.then(() => {
                live();
                return start();
              }),
      );
    } catch (error) {
      // Only a timeout aborts: a command that failed on its own (a script error, say) must not
      // withdraw the healthy commands of other requests queued beside it.
      if (error instanceof OperationTimeoutError) {
        if (abortable !== undefined) {
          if (this.#abortable === abortable) this.#abortable = undefined;
          abortable.controller.abort();
        }
        this.#suspectConnection();
      }
      throw toSessionStoreError(operation, error);
    } finally {
      if (writtenKey !== undefined) {
        const redisKey = this.#redisKey(writtenKey);
        this.#cache?.invalidate(redisKey);
        this.#client.clientSideCache?.invalidate(redisKey);
      }
    }
  }

  #newAbortable(): Abortable {
    const controller = new AbortController();
    // node-redis adds one listener per command waiting to be written; many requests share this
    // signal, and each listener goes once its command is written, so no count is a leak.
    setMaxListeners(0, controller.signal);
    return { controller, client: this.#client.withCommandOptions({ abortSignal: controller.signal }) };
  }

  /**
   * A session as `get` reads it: from the local cache when it holds the hash and the read barrier
   * confirms the copy is current (an invalidation on its way drops it meanwhile), else HGETALL,
   * which needs no barrier. Parsed anew on every read: the handler gets objects of its own.
   */
  async #read(client: RedisStoreClient, redisKey: string): Promise<SessionRecord | undefined> {
    const cache = this.#cache;
    if (cache?.get(redisKey) !== undefined) {
      await this.#barrier!.pass();
      const cached = cache.get(redisKey);
      if (cached !== undefined) return toRecord(cached, Date.now());
    }
    return this.#load(client, redisKey);
  }

  /** The user's index: the prefix, then the user id in a hash tag (see USER_INDEX). */
  #indexKey(userId: string): string {
    return `${this.#prefix}${USER_INDEX}{${Buffer.from(userId, 'utf8').toString('base64url')}}`;
  }

  /**
   * Runs `write`, the script that gives the session hash its owner, with the session entered in
   * the owner's index both before and after it; resolves to the script's reply. The hash says who
   * owns a session and listByUser drops index entries the hash does not confirm, so:
   * - the entry after the write is the one that counts: a listByUser that read the index between
   *   the first entry and the write saw a hash without this owner, and may have dropped it;
   * - the entry before the write covers a connection lost after the write but before the second
   *   entry: a session "sign out everywhere" cannot see must never exist, even when the request
   *   itself failed. It is sent with the write, ahead of it, so it adds no wait: a write with an
   *   owner takes two round trips instead of one.
   * An entry whose write did not apply (a session gone meanwhile) is dropped lazily.
   */
  async #writeOwned(
    client: RedisStoreClient,
    key: string,
    owner: SessionOwner,
    expiresAt: number,
    write: () => Promise<unknown>,
  ): Promise<unknown> {
    const [, written] = await Promise.allSettled([this.#addToIndex(client, key, owner, expiresAt), write()]);
    if (written.status === 'rejected') throw written.reason;
    if (applied(written.value)) await this.#addToIndex(client, key, owner, expiresAt);
    return written.value;
  }

  /** Enters a session in its owner's index, which lasts at least until the session can end. */
  async #addToIndex(client: RedisStoreClient, key: string, owner: SessionOwner, expiresAt: number): Promise<void> {
    const indexKey = this.#indexKey(owner.userId);
    // endsBy bounds expiresAt; the larger of the two, should a caller break that rule, still
    // keeps the index alive for as long as Redis keeps the session.
    const endsAt = Math.max(owner.endsBy, expiresAt);
    const now = Date.now();
    try {
      await this.#eval(client, SCRIPTS.indexAdd, indexKey, [
        String(now),
        String(endsAt),
        String(Math.max(1, Math.ceil(endsAt - now))),
        key,
      ]);
    } finally {
      // As for session hashes (see #run): the writer's own cached copy must go at once.
      this.#client.clientSideCache?.invalidate(indexKey);
    }
  }

  /**
   * Drops `stale` from the index, then reads those sessions again, past any client-side cache,
   * and enters back (and returns) the ones that are now live and the user's. A set() or update()
   * racing this listing may have written its hash after the first read but entered the session
   * before the removal; the re-read after the removal sees such a hash, and a write later than
   * the re-read enters the session again itself (see #writeOwned), so no owned session is left
   * out of the index.
   */
  async #prune(client: RedisStoreClient, indexKey: string, userId: string, stale: string[]): Promise<StoredSession[]> {
    try {
      await client.zRem(indexKey, stale);
    } finally {
      this.#client.clientSideCache?.invalidate(indexKey);
    }
    const replies = await Promise.all(stale.map((key) => this.#eval(client, SCRIPTS.read, this.#redisKey(key), [])));
    const revived: StoredSession[] = [];
    for (const [index, key] of stale.entries()) {
      const record = toRecord(hashFields(replies[index]), Date.now());
      if (record?.owner?.userId === userId) revived.push({ key, record });
    }
    await Promise.all(revived.map(({ key, record }) => this.#addToIndex(client, key, record.owner!, record.expiresAt)));
    return revived;
  }

  /** EVALSHA, falling back to EVAL once when the server does not know the script yet (NOSCRIPT). */
  async #eval(client: RedisStoreClient, script: LuaScript, key: string, args: string[]): Promise<unknown> {
    const call = { keys: [key], arguments: args };
    try {
      return await client.evalSha(script.sha1, call);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(script.source, call);
    }
  }
}

/** Whether a write script applied (its new revision, >= 1), rather than finding no live session (0). */
function applied(reply: unknown): boolean {
  return Number(String(reply)) >= 1;
}

/** A patch's revision: a whole number, as `get` returned it. */

/** The members of a ZRANGE reply as strings, whatever the client's type mapping. */
function textList(reply: unknown): string[] {
  if (!Array.isArray(reply)) throw new SessionStoreError(`RedisStore: unexpected ZRANGE reply (${typeof reply})`);
  return reply.map(asText);
}

/** The hash fields of an owner; an absent ip or user agent gets no field at all. */
function ownerPairs(owner: SessionOwner): string[] {
  const pairs = [OWNER_USER_ID, owner.userId, OWNER_ENDS_BY, String(owner.endsBy)];
  if (owner.ip !== undefined) pairs.push(OWNER_IP, owner.ip);
  if (owner.userAgent !== undefined) pairs.push(OWNER_USER_AGENT, owner.userAgent);
  return pairs;
}

/** PEXPIREAT takes whole milliseconds; rounding up never shortens the lifetime. */
function expiryArgument(expiresAt: number): string {
  return String(Math.ceil(expiresAt));
}

function checkTimestamp(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new SessionStoreError(`RedisStore: ${name} must be a finite number of milliseconds (got ${String(value)})`);
  }
  return value;
}

/**
 * The fields of an HGETALL reply as strings, whatever type mapping the application gave its
 * client: an object (the default), a Map, or a flat [field, value, ...] array, with strings or
 * Buffers. A null-prototype object, so a field named "__proto__" stays a plain field.
 */
function hashFields(reply: unknown): Record<string, unknown> {
  let entries: Iterable<readonly [unknown, unknown]>;
  if (reply instanceof Map) entries = reply as Map<unknown, unknown>;
  else if (Array.isArray(reply)) {
    const pairs: Array<readonly [unknown, unknown]> = [];
    for (let index = 0; index + 1 < reply.length; index += 2) pairs.push([reply[index], reply[index + 1]]);
    entries = pairs;
  } else if (reply !== null && typeof reply === 'object') entries = Object.entries(reply);
  else throw new SessionStoreError(`RedisStore: unexpected HGETALL reply (${typeof reply})`);
  const fields = Object.create(null) as Record<string, unknown>;
  for (const [name, value] of entries) fields[asText(name)] = Buffer.isBuffer(value) ? value.toString('utf8') : value;
  return fields;
}

function asText(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

/** Events after which a tracking connection may have missed invalidations. */
const CONNECTION_EVENTS = ['end', 'reconnecting', 'connect'] as const;

/** Validates `localCache`; the bound on entries, or undefined when off. */
function localCacheSize(option: RedisStoreOptions['localCache'], client: RedisStoreClient, problems: string[]): number | undefined {
  if (option === undefined || option === false) return undefined;
  let size = DEFAULT_LOCAL_CACHE_ENTRIES;
  if (typeof option === 'object' && option !== null) {
    size = option.maxEntries ?? DEFAULT_LOCAL_CACHE_ENTRIES;
    if (!Number.isInteger(size) || size < 1) {
      problems.push(`RedisStore localCache.maxEntries: must be a positive integer (got ${String(option.maxEntries)})`);
    }
  } else if (option !== true) {
    problems.push(`RedisStore localCache: must be true, false or { maxEntries } (got ${typeof option})`);
    return undefined;
  }
  if (client && isClusterClient(client)) {
    // The cache drops copies on the client's 'invalidate' events; a cluster client takes no
    // emitInvalidate and never emits them, so changes made by other instances would go unseen.
    problems.push(
      'RedisStore localCache: not supported with a Redis Cluster client (createCluster()); ' +
        'leave localCache off on a cluster (each read is then one round trip to the node holding the session)',
    );
  } else if (
    client &&
    (client.options?.RESP !== 3 || client.options.emitInvalidate !== true || typeof client.on !== 'function' || !isSingleConnection(client))
  ) {
    problems.push(
      'RedisStore localCache: needs a client created with createClient({ RESP: 3, emitInvalidate: true }) ' +
        '(Redis then reports changes to the sessions this instance holds); a cluster client is not supported',
    );
  }
  return size;
}

/**
 * Whether the client is one node-redis connection (`createClient()`), whose state the store can
 * read (`isReady`, `socketEpoch`) and which it can PING. A cluster, pool or sentinel client
 * spreads commands over connections the store cannot tell apart: it is not supervised.
 */
function isSingleConnection(client: RedisStoreClient): boolean {
  return typeof client.socketEpoch === 'number' && typeof client.isReady === 'boolean' && typeof client.ping === 'function';
}

/** Whether the client is node-redis's cluster client (`createCluster()`), by its node lookup. */
function isClusterClient(client: RedisStoreClient): boolean {
  const candidate = client as unknown as { nodeClient?: unknown; getSlotMaster?: unknown };
  return typeof candidate.nodeClient === 'function' && typeof candidate.getSlotMaster === 'function';
}

/** Turns the fields of a session hash into a record; undefined when absent or expired. */
function toRecord(fields: Readonly<Record<string, unknown>>, now: number): SessionRecord | undefined {
  const names = Object.keys(fields);
  if (names.length === 0) return undefined;
  const expiresAt = numberField(fields, EXPIRES_AT);
  if (expiresAt <= now) return undefined;
  const data: Record<string, unknown> = {};
  for (const name of names) {
    if (!name.startsWith(DATA_FIELD)) continue;
    const text = fields[name];
    let value: unknown;
    try {
      if (typeof text !== 'string') throw new TypeError(`expected a string, got ${typeof text}`);
      value = JSON.parse(text);
    } catch (error) {
      throw new SessionStoreError(`RedisStore: data field "${name}" does not hold JSON`, { cause: error });
    }
    // defineProperty, not assignment: a data key named "__proto__" must stay a plain key.
    Object.defineProperty(data, name.slice(DATA_FIELD.length), { value, writable: true, enumerable: true, configurable: true });
  }
  const cookieMaxAge = fields[COOKIE_MAX_AGE] === undefined ? undefined : numberField(fields, COOKIE_MAX_AGE);
  const owner = toOwner(fields);
  return {
    data,
    createdAt: numberField(fields, CREATED_AT),
    touchedAt: numberField(fields, TOUCHED_AT),
    expiresAt,
    ...(cookieMaxAge === undefined ? {} : { cookieMaxAge }),
    ...(owner === undefined ? {} : { owner }),
    // A hash written before revisions existed counts as revision 0 (the contract's rule).
    revision: fields[REVISION] === undefined ? 0 : numberField(fields, REVISION),
  };
}

/** The owner fields of a session hash; undefined for an anonymous session. */
function toOwner(fields: Readonly<Record<string, unknown>>): SessionOwner | undefined {
  const userId = textField(fields, OWNER_USER_ID);
  if (userId === undefined) return undefined;
  const ip = textField(fields, OWNER_IP);
  const userAgent = textField(fields, OWNER_USER_AGENT);
  return {
    userId,
    ...(ip === undefined ? {} : { ip }),
    ...(userAgent === undefined ? {} : { userAgent }),
    endsBy: numberField(fields, OWNER_ENDS_BY),
  };
}

function textField(fields: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const raw = fields[name];
  if (raw === undefined || typeof raw === 'string') return raw;
  throw new SessionStoreError(`RedisStore: session hash field "${name}" does not hold a string (got ${typeof raw})`);
}

function numberField(fields: Record<string, unknown>, name: string): number {
  const raw = fields[name];
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
  if (!Number.isFinite(value)) {
    // Not a hash this store wrote (or a damaged one): fail visibly rather than guess.
    const got = typeof raw === 'string' ? JSON.stringify(raw) : typeof raw;
    throw new SessionStoreError(`RedisStore: session hash has no valid "${name}" field (got ${got})`);
  }
  return value;
}

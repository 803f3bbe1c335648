import { types } from 'node:util';
import type { Client, Response } from 'memjs';
import { SessionConfigError, SessionStoreError, toSessionStoreError } from '../core/errors';
import { checkSessionOwner, ownerRefusal } from '../core/session-owner';
import type { SessionOwner, SessionPatch, SessionRecord, SessionStore } from '../core/session-store';
import { dropStalledConnection, isMemjsServerState, mendMemjsServer, type MemjsServerState } from './memjs-repair';
import { readOperationTimeout, withOperationTimeout } from './operation-timeout';

/** Options of {@link MemcachedStore}. */
export interface MemcachedStoreOptions {
  /**
   * A memjs client the application created and closes (`memjs.Client.create('127.0.0.1:11211', …)`);
   * the store never closes it. Give it a per-request `timeout` (seconds) below `operationTimeout`,
   * so memjs itself gives up on a dead connection instead of leaving it to the store's bound.
   * The client's `serializer` and `expires` options are not used: the store writes raw JSON with
   * its own expiry (hence the loose type parameters: a client of any serializer fits).
   */
  client: Client<never, unknown>;
  /**
   * Prepended to every key (`${prefix}${key}`), so several apps or environments can share one
   * server. Printable ASCII without spaces; with the 43-character key it must fit memcached's
   * 250-byte key limit.
   * @default 'sess:'
   */
  prefix?: string;
  /**
   * Upper bound on one store operation, in milliseconds, compare-and-swap retries included. When
   * it passes the operation rejects with `SessionStoreError` (the request answers 503).
   * @default 2000
   */
  operationTimeout?: number;
  /**
   * The server's item size limit (memcached `-I`), in bytes. A record whose key, JSON and
   * memcached's per-item overhead do not fit is refused with a `SessionStoreError` before it is
   * sent, instead of the server's bare "Value too large". Raise it only with the server's `-I`.
   * @default 1_048_576 (memcached's default, 1 MiB)
   */
  maxItemSize?: number;
}

// Binary protocol (https://github.com/memcached/memcached/wiki/BinaryProtocolRevamped): memjs 1.3.2
// has no public gets/cas, but its typed `perform()` sends any request we frame and hands back the
// parsed response, CAS value included, with memjs's own connection handling, retries and failover.
const MAGIC_REQUEST = 0x80;
const OPCODE_GET = 0x00;
const OPCODE_SET = 0x01;
const OPCODE_ADD = 0x02;
const OPCODE_DELETE = 0x04;
const OPCODE_NOOP = 0x0a;
const STATUS_OK = 0x0000;
const STATUS_KEY_NOT_FOUND = 0x0001;
const STATUS_KEY_EXISTS = 0x0002;
const STATUS_VALUE_TOO_LARGE = 0x0003;
const STATUS_TEXT: Readonly<Record<number, string>> = {
  0x0004: 'invalid arguments',
  0x0005: 'item not stored',
  0x0081: 'unknown command',
  0x0082: 'out of memory',
  0x0083: 'not supported',
  0x0084: 'internal error',
  0x0085: 'busy',
  0x0086: 'temporary failure',
};
const NO_CAS: Buffer = Buffer.alloc(8);
const EMPTY: Buffer = Buffer.alloc(0);

/** memcached reads an expiration above 30 days as an absolute unix time, not a number of seconds. */
const MAX_RELATIVE_EXPIRATION_SECONDS = 60 * 60 * 24 * 30;
const MAX_KEY_BYTES = 250;
/** Length of the keys the library passes: SHA-256, base64url, unpadded. */
const SESSION_KEY_LENGTH = 43;
/** memcached's per-item header, CAS and suffix (59 bytes measured on 1.6), rounded up. */
const ITEM_OVERHEAD_BYTES = 64;
const DEFAULT_MAX_ITEM_SIZE = 1_048_576;

/**
 * The memcached expiration for a record that must live until `expiresAt` (ms since the epoch).
 * memcached counts whole seconds on a clock that ticks once a second, so an item set with N
 * seconds can vanish just over N - 1 seconds later: round the lifetime up and add one second, so
 * an entry never disappears before `expiresAt` (reads re-check `expiresAt` to the millisecond).
 * Beyond 30 days memcached wants an absolute unix time, which relies on the server's clock.
 */
function memcachedExpiration(expiresAt: number, now: number): number {
  const seconds = Math.max(1, Math.ceil((expiresAt - now) / 1000)) + 1;
  if (seconds <= MAX_RELATIVE_EXPIRATION_SECONDS) return seconds;
  return Math.min(Math.ceil(expiresAt / 1000) + 1, 0xffff_ffff);
}

interface StoredRecord {
  record: SessionRecord;
  cas: Buffer;
}

/** What a write request needs beyond a read: the operation's deadline. */
interface WriteOptions {
  readonly operation: string;
  readonly deadline: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Keeps sessions in memcached, one JSON item per session under `${prefix}${key}`, with a native
 * expiry derived from `expiresAt`. Updates are atomic per session through memcached's
 * compare-and-swap: read the item and its CAS value, merge the patch, write it back only if the
 * item is unchanged (retrying the merge on a conflict, giving up if it was deleted). So concurrent
 * requests never lose each other's keys and a destroyed session is never written back.
 *
 * Round trips: get 1, set of a new key 1 (3 when it replaces an item), destroy 1, update and
 * touch 2 (read + compare-and-swap), plus 2 per conflicting concurrent write of the same session,
 * plus 1 (a NOOP) before a write that would otherwise wait for a connection being opened.
 * memcached cannot offer one round trip per save. Each item keeps a revision counter (`r` in its
 * JSON; the CAS value is opaque and changes on every write, so it is not exposed as the revision).
 * memcached cannot list keys either, so this store has no `listByUser`: the session owner is kept
 * and given back, but `SessionService.listForUser`, `revokeAllForUser` and `maxSessionsPerUser`
 * are refused with it. memcached may also evict sessions under memory pressure (a user is then
 * signed out); size the server so it does not.
 *
 * @example
 * ```ts
 * import * as memjs from 'memjs';
 * const client = memjs.Client.create('127.0.0.1:11211', { timeout: 0.5, retries: 1 });
 * SessionModule.forRoot({ secret, store: new MemcachedStore({ client }) });
 * // on shutdown, after the app closed: client.close()
 * ```
 */
export class MemcachedStore implements SessionStore {
  readonly #client: Client<never, unknown>;
  readonly #prefix: string;
  readonly #operationTimeout: number;
  readonly #maxItemSize: number;

  /** @throws SessionConfigError listing every invalid option. */
  constructor(options: MemcachedStoreOptions) {
    const problems: string[] = [];
    const client = options?.client as Partial<Client<never, unknown>> | undefined;
    if (typeof client?.perform !== 'function' || typeof client.incrSeq !== 'function') {
      problems.push("MemcachedStore client must be a memjs Client (memjs.Client.create('host:11211'))");
    }
    const prefix = options?.prefix ?? 'sess:';
    // Printable ASCII without spaces keeps the keys usable from the text protocol and tools.
    if (typeof prefix !== 'string' || !/^[\x21-\x7e]*$/.test(prefix) || prefix.length + SESSION_KEY_LENGTH > MAX_KEY_BYTES) {
      problems.push(
        `MemcachedStore prefix must be printable ASCII without spaces, at most ${MAX_KEY_BYTES - SESSION_KEY_LENGTH} characters (got ${JSON.stringify(prefix)})`,
      );
    }
    const maxItemSize = options?.maxItemSize ?? DEFAULT_MAX_ITEM_SIZE;
    if (!Number.isInteger(maxItemSize) || maxItemSize < 1024) {
      problems.push(`MemcachedStore maxItemSize must be a whole number of bytes, at least 1024 (got ${String(options?.maxItemSize)})`);
    }
    const operationTimeout = readOperationTimeout('MemcachedStore', options?.operationTimeout, problems);
    if (problems.length > 0) throw new SessionConfigError(problems);
    this.#client = options.client;
    this.#prefix = prefix;
    this.#operationTimeout = operationTimeout;
    this.#maxItemSize = maxItemSize;
    for (const server of options.client.servers ?? []) {
      if (isMemjsServerState(server)) mendMemjsServer(server);
    }
  }

  get(key: string): Promise<SessionRecord | undefined> {
    return this.#run('get', async () => {
      const stored = await this.#read(key);
      return stored?.record;
    });
  }

  /**
   * A new key is added (memcached `add`: only if absent) at revision 1, in one round trip. A key
   * that exists is replaced through compare-and-swap, one revision past the item it replaces
   * (read first: two more round trips). Neither write can land over a newer one: `add` fails on
   * any item, and the swap on any item written since its read.
   */
  set(key: string, record: SessionRecord): Promise<void> {
    return this.#run('set', async (deadline) => {
      if (record.owner !== undefined) checkSessionOwner(record.owner, 'MemcachedStore set');
      const write = { operation: 'set', deadline };
      for (let attempt = 0; ; attempt++) {
        const added = await this.#write(key, { ...record, revision: 1 }, undefined, write);
        if (added === STATUS_OK) return;
        if (added !== STATUS_KEY_EXISTS) throw this.#statusError('set', added);
        const existing = await this.#readItem(key);
        if (existing !== undefined) {
          this.#checkDeadline('set', deadline);
          const revision = (existing.revision ?? 0) + 1;
          const swapped = await this.#write(key, { ...record, revision }, existing.cas, write);
          if (swapped === STATUS_OK) return;
          if (swapped !== STATUS_KEY_EXISTS && swapped !== STATUS_KEY_NOT_FOUND) throw this.#statusError('set', swapped);
        }
        // Changed or gone in between: start over, as in #compareAndSwap.
        await sleep(Math.random() * Math.min(2 ** attempt, 25));
        this.#checkDeadline('set', deadline);
      }
    });
  }

  /**
   * Applies the patch by compare-and-swap on top of the item as it is now, advancing its
   * revision. `patch.revision` needs no comparison here: the swap is written only if the item is
   * still the one this operation read, so a write delivered after the operation gave up (held by
   * a partition) finds a changed item and fails, and while the operation is live a conflict is
   * merged again on top of the newer item, which is what the contract asks of a revision that
   * does not match.
   */
  update(key: string, patch: SessionPatch): Promise<boolean> {
    const refused = patch.owner == null ? undefined : ownerRefusal(patch.owner, 'MemcachedStore update');
    if (refused) return Promise.reject(refused);
    return this.#run('update', (deadline) =>
      this.#compareAndSwap('update', key, deadline, (record) => {
        const data = { ...record.data };
        for (const name of patch.unset) delete data[name];
        for (const [name, value] of Object.entries(patch.set)) {
          // defineProperty, not assignment: a key named "__proto__" is stored as data, not as a prototype.
          Object.defineProperty(data, name, { value, writable: true, enumerable: true, configurable: true });
        }
        const cookieMaxAge = patch.cookieMaxAge === undefined ? record.cookieMaxAge : (patch.cookieMaxAge ?? undefined);
        const owner = patch.owner === undefined ? record.owner : (patch.owner ?? undefined);
        return {
          data,
          createdAt: record.createdAt,
          // Never backwards, as in every store: of two concurrent requests, the one that touched
          // the session later may have written first.
          touchedAt: Math.max(record.touchedAt, patch.touchedAt),
          expiresAt: Math.max(record.expiresAt, patch.expiresAt),
          ...(cookieMaxAge === undefined ? {} : { cookieMaxAge }),
          ...(owner === undefined ? {} : { owner }),
          revision: (record.revision ?? 0) + 1,
        };
      }),
    );
  }

  destroy(key: string): Promise<void> {
    return this.#run('destroy', async (deadline) => {
      const response = await this.#request(OPCODE_DELETE, key, EMPTY, EMPTY, NO_CAS, { operation: 'destroy', deadline });
      const { status } = response.header;
      if (status !== STATUS_OK && status !== STATUS_KEY_NOT_FOUND) throw this.#statusError('destroy', status);
    });
  }

  touch(key: string, record: SessionRecord): Promise<void> {
    // memcached's own `touch` would move the item's expiry but leave the expiresAt inside the JSON
    // (which reads check) behind, so the lifetime is rewritten through the same CAS path. The rest
    // of the stored record, owner and revision included, is kept as it is.
    return this.#run('touch', async (deadline) => {
      await this.#compareAndSwap('touch', key, deadline, (current) =>
        // A touch older than the lifetime stored (a newer request already extended it) would
        // move it back and sign the user out early: leave the item as it is.
        record.touchedAt < current.touchedAt || (record.touchedAt === current.touchedAt && record.expiresAt <= current.expiresAt)
          ? undefined
          : { ...current, touchedAt: record.touchedAt, expiresAt: record.expiresAt },
      );
    });
  }

  /** Nothing to release: the memjs client belongs to the application, which closes it. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Read, change, write back only if nobody wrote in between. Resolves false without writing when
   * no live record exists, before or during the attempt (`replace` semantics: a CAS write of a
   * deleted item fails with "not found", so a destroyed session is never brought back). `change`
   * returning undefined means nothing to write (resolves true).
   *
   * Nothing is sent once the operation timed out: the deadline is checked before each write, a
   * write is sent only on a connection already open (so it leaves at once, see #request), and
   * memjs is told not to retry it later on its own.
   */
  async #compareAndSwap(
    operation: string,
    key: string,
    deadline: number,
    change: (record: SessionRecord) => SessionRecord | undefined,
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const stored = await this.#read(key);
      if (!stored) return false;
      // Once the caller has been told "timed out" (503), a late read must not go on to write.
      this.#checkDeadline(operation, deadline);
      const changed = change(stored.record);
      if (changed === undefined) return true;
      const status = await this.#write(key, changed, stored.cas, { operation, deadline });
      if (status === STATUS_OK) return true;
      if (status === STATUS_KEY_NOT_FOUND) return false;
      if (status !== STATUS_KEY_EXISTS) throw this.#statusError(operation, status);
      // Another request wrote this session in between: merge again on top of its write. Jittered
      // backoff so a burst of writers to one session spreads out instead of colliding in lockstep.
      await sleep(Math.random() * Math.min(2 ** attempt, 25));
      this.#checkDeadline(operation, deadline);
    }
  }

  #checkDeadline(operation: string, deadline: number): void {
    if (performance.now() >= deadline) {
      throw new SessionStoreError(`Session store ${operation} timed out after ${this.#operationTimeout} ms`);
    }
  }

  /** The live record and its CAS value, or undefined when absent or past `expiresAt`. */
  async #read(key: string): Promise<StoredRecord | undefined> {
    const response = await this.#request(OPCODE_GET, key);
    const { status } = response.header;
    if (status === STATUS_KEY_NOT_FOUND) return undefined;
    if (status !== STATUS_OK) throw this.#statusError('get', status);
    const record = parseRecord(response.val);
    // memcached keeps the item up to about two seconds past expiresAt (whole-second expiry,
    // rounded up): the record itself decides, to the millisecond.
    if (record.expiresAt <= Date.now()) return undefined;
    return { record, cas: Buffer.from(response.header.cas) };
  }

  /**
   * Whatever item memcached holds under the key, live or not, with its revision (undefined when
   * it is not an item this store wrote) and CAS value; undefined when there is none. What `set`
   * replaces.
   */
  async #readItem(key: string): Promise<{ revision: number | undefined; cas: Buffer } | undefined> {
    const response = await this.#request(OPCODE_GET, key);
    const { status } = response.header;
    if (status === STATUS_KEY_NOT_FOUND) return undefined;
    if (status !== STATUS_OK) throw this.#statusError('set', status);
    let revision: number | undefined;
    try {
      revision = parseRecord(response.val).revision;
    } catch {
      // Not an item of ours: `set` replaces it whole, as it always did, from revision 1.
      revision = undefined;
    }
    return { revision, cas: Buffer.from(response.header.cas) };
  }

  /**
   * Writes the item: with `cas` a SET only if the item still has that CAS value, without it an
   * ADD (only if there is no item).
   */
  async #write(key: string, record: SessionRecord, cas: Buffer | undefined, options: WriteOptions): Promise<number> {
    if (!Number.isFinite(record.expiresAt)) {
      throw new SessionStoreError(`Session store cannot keep a record whose expiresAt is ${String(record.expiresAt)}`);
    }
    const value = Buffer.from(JSON.stringify(toJson(record)), 'utf8');
    const itemSize = Buffer.byteLength(this.#prefix + key) + value.length + ITEM_OVERHEAD_BYTES;
    if (itemSize > this.#maxItemSize) throw this.#tooLarge(value.length, 'store');
    const extras = Buffer.alloc(8); // flags (0), then expiration
    extras.writeUInt32BE(memcachedExpiration(record.expiresAt, Date.now()), 4);
    const response = await this.#request(cas === undefined ? OPCODE_ADD : OPCODE_SET, key, extras, value, cas ?? NO_CAS, options);
    if (response.header.status === STATUS_VALUE_TOO_LARGE) throw this.#tooLarge(value.length, 'server');
    return response.header.status;
  }

  /**
   * One binary-protocol request through memjs (its connection, and for reads its retries and
   * failover). A write (`write` given) is only ever sent at once, before the operation's
   * deadline: memjs would otherwise queue it on a connection still being opened, or retry it
   * after `retry_delay`, and either could put it on the wire after the caller was told it timed
   * out. So it goes out only on an open connection (after a NOOP round trip that opens one,
   * when needed) and with memjs's retries off (a failed write fails the operation).
   *
   * Any request first retires a connection memjs should already have given up on (a request on
   * it unanswered past memjs's own timeout, see {@link dropStalledConnection}): after a partition
   * memjs would otherwise keep writing on the frozen connection until the network releases it,
   * and a write would count it as open.
   */
  async #request(
    opcode: number,
    key: string,
    extras: Buffer = EMPTY,
    value: Buffer = EMPTY,
    cas: Buffer = NO_CAS,
    write?: WriteOptions,
  ): Promise<Response> {
    const fullKey = this.#prefix + key;
    const keyBytes = Buffer.from(fullKey, 'utf8');
    if (keyBytes.length > MAX_KEY_BYTES || keyBytes.length === 0) {
      throw new SessionStoreError(`Session store key is ${keyBytes.length} bytes; memcached accepts 1 to ${MAX_KEY_BYTES}`);
    }
    const server = this.#serverFor(fullKey);
    if (server !== undefined) dropStalledConnection(server);
    if (write !== undefined) {
      if (!this.#connectedFor(fullKey)) {
        await this.#perform(fullKey, frame(OPCODE_NOOP, EMPTY, EMPTY, EMPTY, NO_CAS, this.#nextSeq()), this.#client.seq);
        if (!this.#connectedFor(fullKey)) throw new SessionStoreError(`Session store ${write.operation} failed: the memcached connection closed`);
      }
      this.#checkDeadline(write.operation, write.deadline);
    }
    const seq = this.#nextSeq();
    return this.#perform(fullKey, frame(opcode, keyBytes, extras, value, cas, seq), seq, write === undefined ? undefined : 1);
  }

  #nextSeq(): number {
    this.#client.incrSeq();
    return this.#client.seq;
  }

  /** The memjs server `fullKey` goes to, when it has the memjs 1.3.2 state the store relies on. */
  #serverFor(fullKey: string): MemjsServerState | undefined {
    const server: unknown = this.#client.server(fullKey);
    return isMemjsServerState(server) ? server : undefined;
  }

  /** Whether memjs holds an open connection to the server of `fullKey` (a write is then sent at once). */
  #connectedFor(fullKey: string): boolean {
    const server = this.#serverFor(fullKey);
    // A client whose servers do not look like memjs 1.3.2's: no way to tell, assume open.
    if (server === undefined) return true;
    return server._socket !== undefined && server.connected;
  }

  #perform(fullKey: string, request: Buffer, seq: number, retries?: number): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const callback = (error: unknown, response?: Response): void => {
        if (error) {
          // isNativeError, not instanceof: socket errors may come from another realm (Jest's VM
          // contexts). memjs reports some failures (SASL authentication) as a bare string.
          const failure = types.isNativeError(error)
            ? error
            : new Error(typeof error === 'string' ? error : 'memjs request failed', { cause: error });
          // memjs 1.3.2 forgets its current socket when a *failed* socket's 'close' event arrives,
          // even if a newer socket replaced it meanwhile; a request sent in that window is never
          // written and would only end at the operation timeout. Settling the failure one timer
          // tick later lets that 'close' land first, so the caller's next request reconnects cleanly.
          setTimeout(() => reject(failure), 1);
        } else if (!response) {
          reject(new Error('memjs returned no response'));
        } else {
          resolve(response);
        }
      };
      // memjs reads an absent `retries` as its client option; 1 means a single attempt.
      if (retries === undefined) this.#client.perform(fullKey, request, seq, callback);
      else this.#client.perform(fullKey, request, seq, callback, retries);
    });
  }

  /**
   * Runs one operation under the timeout (memjs can leave a request unanswered when a connection
   * closes under it) and turns whatever it throws into a SessionStoreError with the cause kept.
   */
  async #run<T>(operation: string, run: (deadline: number) => Promise<T>): Promise<T> {
    const deadline = performance.now() + this.#operationTimeout;
    try {
      return await withOperationTimeout(operation, this.#operationTimeout, () => run(deadline));
    } catch (error) {
      throw toSessionStoreError(operation, error);
    }
  }

  #statusError(operation: string, status: number): SessionStoreError {
    const text = STATUS_TEXT[status] ?? `status 0x${status.toString(16).padStart(4, '0')}`;
    return new SessionStoreError(`Session store ${operation} failed: memcached answered "${text}"`);
  }

  #tooLarge(valueBytes: number, refusedBy: 'store' | 'server'): SessionStoreError {
    const limit =
      refusedBy === 'store'
        ? `memcached items are limited to ${this.#maxItemSize} bytes (maxItemSize, memcached -I)`
        : `the memcached server refused it as too large (its -I limit is below maxItemSize, ${this.#maxItemSize} bytes)`;
    return new SessionStoreError(
      `Session store cannot keep a record of ${valueBytes} bytes of JSON: ${limit}. Keep large data out of the session.`,
    );
  }
}

/**
 * The owner inside an item, under `o`: short names, since it rides along in every write of a
 * signed-in session. `ip` and `ua` only when known.
 */
interface ItemOwner {
  u: string;
  ip?: string;
  ua?: string;
  e: number;
}

/** An item's JSON. Items written before owners existed have no `o`, and read as anonymous. */
interface Item {
  data: Record<string, unknown>;
  createdAt: number;
  touchedAt: number;
  expiresAt: number;
  cookieMaxAge?: number;
  o?: ItemOwner;
  /** The revision (SessionRecord.revision); items written before revisions have none: 0. */
  r?: number;
}

/** A binary-protocol request frame; `seq` is the opaque memjs matches the response by. */
function frame(opcode: number, keyBytes: Buffer, extras: Buffer, value: Buffer, cas: Buffer, seq: number): Buffer {
  const request = Buffer.alloc(24 + extras.length + keyBytes.length + value.length);
  request.writeUInt8(MAGIC_REQUEST, 0);
  request.writeUInt8(opcode, 1);
  request.writeUInt16BE(keyBytes.length, 2);
  request.writeUInt8(extras.length, 4);
  // byte 5 data type and bytes 6-7 vbucket stay 0
  request.writeUInt32BE(extras.length + keyBytes.length + value.length, 8);
  request.writeUInt32BE(seq, 12);
  cas.copy(request, 16);
  extras.copy(request, 24);
  keyBytes.copy(request, 24 + extras.length);
  value.copy(request, 24 + extras.length + keyBytes.length);
  return request;
}

function toJson(record: SessionRecord): Item {
  // Only the contract's fields, in a fixed order; cookieMaxAge and the owner only when set.
  const { owner } = record;
  return {
    data: record.data,
    createdAt: record.createdAt,
    touchedAt: record.touchedAt,
    expiresAt: record.expiresAt,
    ...(record.cookieMaxAge === undefined ? {} : { cookieMaxAge: record.cookieMaxAge }),
    ...(owner === undefined
      ? {}
      : {
          o: {
            u: owner.userId,
            ...(owner.ip === undefined ? {} : { ip: owner.ip }),
            ...(owner.userAgent === undefined ? {} : { ua: owner.userAgent }),
            e: owner.endsBy,
          },
        }),
    ...(record.revision === undefined ? {} : { r: record.revision }),
  };
}

function isItemOwner(value: unknown): value is ItemOwner {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const owner = value as Partial<Record<keyof ItemOwner, unknown>>;
  return (
    typeof owner.u === 'string' &&
    typeof owner.e === 'number' &&
    (owner.ip === undefined || typeof owner.ip === 'string') &&
    (owner.ua === undefined || typeof owner.ua === 'string')
  );
}

/** Parses an item written by this store; anything else under the key is an error, not a session. */
function parseRecord(value: Buffer): SessionRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (error) {
    throw new SessionStoreError('Session store get failed: the item is not JSON written by MemcachedStore', { cause: error });
  }
  const candidate = parsed as Partial<Record<keyof Item, unknown>> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.data !== 'object' ||
    candidate.data === null ||
    Array.isArray(candidate.data) ||
    typeof candidate.createdAt !== 'number' ||
    typeof candidate.touchedAt !== 'number' ||
    typeof candidate.expiresAt !== 'number' ||
    (candidate.cookieMaxAge !== undefined && typeof candidate.cookieMaxAge !== 'number') ||
    (candidate.o !== undefined && !isItemOwner(candidate.o)) ||
    (candidate.r !== undefined && !(Number.isSafeInteger(candidate.r) && (candidate.r as number) >= 0))
  ) {
    throw new SessionStoreError('Session store get failed: the item does not have the shape of a session record');
  }
  const item = parsed as Item;
  const stored = item.o;
  const owner: SessionOwner | undefined = stored && {
    userId: stored.u,
    ...(stored.ip === undefined ? {} : { ip: stored.ip }),
    ...(stored.ua === undefined ? {} : { userAgent: stored.ua }),
    endsBy: stored.e,
  };
  return {
    data: item.data,
    createdAt: item.createdAt,
    touchedAt: item.touchedAt,
    expiresAt: item.expiresAt,
    ...(item.cookieMaxAge === undefined ? {} : { cookieMaxAge: item.cookieMaxAge }),
    ...(owner === undefined ? {} : { owner }),
    revision: item.r ?? 0,
  };
}

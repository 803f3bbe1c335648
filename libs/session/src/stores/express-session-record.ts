import type { SessionOwner, SessionRecord } from '../core/session-store';

/** Where the library's own fields live inside the session object a foreign store keeps. */
export const RECORD_FIELD = 'nestSessionAuth';

/**
 * memcached reads an expiry over 30 days as a Unix time (already past): the lifetime handed to
 * stores is capped there. A session that stays idle longer than that is forgotten early, never late.
 */
const MAX_STORE_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * The session object an express-session store receives: express-session's shape, so the store
 * computes its expiry as it does for express-session (each reads another field: `expires`,
 * `originalMaxAge` or `maxAge`, all given, consistent with `expiresAt`), with the record in one
 * field of its own.
 */
export interface ForeignSessionObject {
  readonly cookie: {
    readonly originalMaxAge: number;
    readonly maxAge: number;
    readonly expires: string;
    readonly httpOnly: true;
    readonly path: '/';
  };
  readonly [RECORD_FIELD]: StoredFields;
}

interface StoredFields {
  readonly v: 1;
  readonly data: Record<string, unknown>;
  readonly createdAt: number;
  readonly touchedAt: number;
  readonly expiresAt: number;
  readonly cookieMaxAge?: number;
  readonly owner?: SessionOwner;
  readonly revision?: number;
}

/** The object to hand a foreign store for `record`, written at `now`. */
export function toForeignSession(record: SessionRecord, now: number): ForeignSessionObject {
  const ttl = Math.max(1000, Math.min(record.expiresAt - now, MAX_STORE_TTL_MS));
  const fields: StoredFields = {
    v: 1,
    data: record.data,
    createdAt: record.createdAt,
    touchedAt: record.touchedAt,
    expiresAt: record.expiresAt,
    ...(record.cookieMaxAge === undefined ? {} : { cookieMaxAge: record.cookieMaxAge }),
    ...(record.owner === undefined ? {} : { owner: record.owner }),
    ...(record.revision === undefined ? {} : { revision: record.revision }),
  };
  return {
    cookie: { originalMaxAge: ttl, maxAge: ttl, expires: new Date(now + ttl).toISOString(), httpOnly: true, path: '/' },
    [RECORD_FIELD]: fields,
  };
}

/**
 * The record inside what a foreign store returned, or undefined for anything else (nothing, or
 * a session this library did not write: it is never read as one). Stores that keep a JSON string
 * give back a parsed copy; stores that keep objects in memory may give back the very object
 * stored, so the data is deep-copied.
 */
export function fromForeignSession(value: unknown): SessionRecord | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const fields = (value as Record<string, unknown>)[RECORD_FIELD] as Partial<StoredFields> | undefined;
  if (fields === null || typeof fields !== 'object' || fields.v !== 1) return undefined;
  const { data, createdAt, touchedAt, expiresAt, cookieMaxAge, owner, revision } = fields;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  if (!isFiniteNumber(createdAt) || !isFiniteNumber(touchedAt) || !isFiniteNumber(expiresAt)) return undefined;
  return {
    data: structuredClone(data),
    createdAt,
    touchedAt,
    expiresAt,
    ...(isFiniteNumber(cookieMaxAge) ? { cookieMaxAge } : {}),
    ...(owner !== null && typeof owner === 'object' ? { owner: structuredClone(owner) } : {}),
    ...(isFiniteNumber(revision) ? { revision } : {}),
  };
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

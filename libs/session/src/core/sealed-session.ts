import { isWellFormedSessionId } from './session-id';

/**
 * What a client-side session cookie carries, before sealing: the id (for revocation), the
 * timestamps (expiry is enforced from inside the sealed value, which the client cannot alter)
 * and the data. Short keys keep the cookie small.
 */
export interface SealedSession {
  /** Format version of this payload. */
  readonly v: 1;
  /** The session id. */
  readonly i: string;
  /** createdAt, ms since the epoch. */
  readonly c: number;
  /** touchedAt, ms since the epoch. */
  readonly t: number;
  /** The session data. */
  readonly d: Record<string, unknown>;
  /** Per-session cookie lifetime, ms. */
  readonly m?: number;
  /**
   * When the session's registry entry (signed-in sessions, with a revocation store that lists
   * per user) was last written, ms since the epoch: tells the next request when it is due again.
   */
  readonly r?: number;
}

/** The JSON text sealed into the cookie. */
export function encodeSealedSession(session: SealedSession): string {
  return JSON.stringify(session);
}

/**
 * Parses an opened cookie's text. Authentic (it was sealed with our key) does not mean
 * well-formed: an older format or a bug must yield a fresh session, never an exception.
 */
export function parseSealedSession(text: string): SealedSession | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const payload = value as Record<string, unknown>;
  if (payload.v !== 1 || typeof payload.i !== 'string' || !isWellFormedSessionId(payload.i)) return undefined;
  if (!Number.isFinite(payload.c) || !Number.isFinite(payload.t)) return undefined;
  if (payload.d === null || typeof payload.d !== 'object' || Array.isArray(payload.d)) return undefined;
  if (payload.m !== undefined && !(typeof payload.m === 'number' && Number.isFinite(payload.m) && payload.m > 0)) return undefined;
  return {
    v: 1,
    i: payload.i,
    c: payload.c as number,
    t: payload.t as number,
    d: payload.d as Record<string, unknown>,
    ...(payload.m === undefined ? {} : { m: payload.m }),
    // Only a hint of when to refresh the registry: a bad value means "refresh now", not a refusal.
    ...(typeof payload.r === 'number' && Number.isFinite(payload.r) ? { r: payload.r } : {}),
  };
}

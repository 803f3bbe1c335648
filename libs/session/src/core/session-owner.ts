import { SessionStoreError } from './errors';
import type { SessionOwner } from './session-store';

/** Where a request comes from, as the HTTP adapter sees it: recorded when a user signs in. */
export interface SessionDevice {
  /** The client's address (Express's `req.ip`). */
  readonly ip?: string;
  /** The `User-Agent` header. */
  readonly userAgent?: string;
}

/** Longest user id kept in an owner (the SQL stores' column width). */
export const MAX_USER_ID_LENGTH = 255;
/** User agents are cut to this many characters: enough to tell devices apart. */
export const MAX_USER_AGENT_LENGTH = 512;
/** Longest client address kept (the SQL stores' column width; an IPv6 address with a zone is far shorter). */
export const MAX_IP_LENGTH = 255;

/**
 * A user id as the library keeps it: a non-empty, well-formed string of at most {@link MAX_USER_ID_LENGTH}
 * characters (code points), or a finite number as its string form; undefined for anything else.
 */
export function toUserId(value: unknown): string | undefined {
  const id = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  // The stores' rule (checkOwnerUserId), so a signed-in session can always be stored.
  return typeof id === 'string' && fitsText(id, 1, MAX_USER_ID_LENGTH) ? id : undefined;
}

/**
 * The id of the user a session's data says is signed in (`data.user.id`, as a string), or
 * undefined for an anonymous session. Read from the data, so the index follows `session.user`
 * however it was written.
 */
export function signedInUserId(data: Readonly<Record<string, unknown>>): string | undefined {
  const user = data.user;
  if (user === null || typeof user !== 'object') return undefined;
  const id = (user as { id?: unknown }).id;
  if (typeof id === 'string') return id === '' ? undefined : id;
  return typeof id === 'number' && Number.isFinite(id) ? String(id) : undefined;
}

/** The owner a store records for a session of `userId`, signed in from `device`. */
export function sessionOwner(userId: string, device: SessionDevice | undefined, endsBy: number): SessionOwner {
  const ip = cleanText(device?.ip, MAX_IP_LENGTH);
  const userAgent = cleanText(device?.userAgent, MAX_USER_AGENT_LENGTH);
  return { userId, ...(ip === undefined ? {} : { ip }), ...(userAgent === undefined ? {} : { userAgent }), endsBy };
}

/** A header value fit to keep and show: a string, control characters removed, bounded, not empty. */
function cleanText(value: unknown, limit: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  const cleaned = value.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, limit).toWellFormed();
  return cleaned === '' ? undefined : cleaned;
}

/**
 * Checks a user id as every store keeps it: a well-formed string (a lone surrogate has no UTF-8
 * form, so MySQL and Redis would store U+FFFD: two ids would then be one user) of 1 to
 * {@link MAX_USER_ID_LENGTH} characters, counted in code points as the SQL columns count them.
 * @param where - Who checks, for the message (`RedisStore set`, say).
 * @throws SessionStoreError naming the problem; nothing is written.
 */
export function checkOwnerUserId(userId: unknown, where: string): string {
  if (typeof userId !== 'string' || !fitsText(userId, 1, MAX_USER_ID_LENGTH)) {
    throw new SessionStoreError(`${where} refused the owner: owner.userId must be a well-formed string of 1 to ${MAX_USER_ID_LENGTH} characters (got ${describe(userId)})`);
  }
  return userId;
}

/**
 * The one rule every store applies to an owner before writing it (the core writes only owners
 * that pass: `sessionOwner` cuts the device fields to these bounds): `userId` as
 * {@link checkOwnerUserId}, `ip` and `userAgent` absent or well-formed strings of at most
 * {@link MAX_IP_LENGTH} and {@link MAX_USER_AGENT_LENGTH} characters, `endsBy` a finite number.
 * @throws SessionStoreError naming the first problem; nothing is written.
 */
export function checkSessionOwner(owner: unknown, where: string): SessionOwner {
  if (owner === null || typeof owner !== 'object') {
    throw new SessionStoreError(`${where} refused the owner: it must be an object with userId and endsBy (got ${owner === null ? 'null' : typeof owner})`);
  }
  const { userId, ip, userAgent, endsBy } = owner as Partial<Record<keyof SessionOwner, unknown>>;
  checkOwnerUserId(userId, where);
  for (const [name, value, limit] of [['ip', ip, MAX_IP_LENGTH], ['userAgent', userAgent, MAX_USER_AGENT_LENGTH]] as const) {
    if (value !== undefined && (typeof value !== 'string' || !fitsText(value, 0, limit))) {
      throw new SessionStoreError(`${where} refused the owner: owner.${name} must be a well-formed string of at most ${limit} characters when given (got ${describe(value)})`);
    }
  }
  if (typeof endsBy !== 'number' || !Number.isFinite(endsBy)) {
    throw new SessionStoreError(`${where} refused the owner: owner.endsBy must be a finite number of milliseconds (got ${describe(endsBy)})`);
  }
  return owner as SessionOwner;
}

/** {@link checkSessionOwner} for synchronous code paths: the refusal, or undefined when the owner passes. */
export function ownerRefusal(owner: unknown, where: string): SessionStoreError | undefined {
  try {
    checkSessionOwner(owner, where);
    return undefined;
  } catch (error) {
    return error as SessionStoreError;
  }
}

/** Whether `text` is well-formed and `min` to `max` code points long. */
function fitsText(text: string, min: number, max: number): boolean {
  // More than 2 x max UTF-16 units is more than max code points: no need to count.
  if (text.length > 2 * max || !text.isWellFormed()) return false;
  const codePoints = [...text].length;
  return codePoints >= min && codePoints <= max;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `${[...value].length} characters` : value === null ? 'null' : typeof value;
}

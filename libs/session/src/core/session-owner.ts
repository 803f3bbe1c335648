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
/** Longest client address kept (an IPv6 address with a zone fits well within it). */
const MAX_IP_LENGTH = 64;

/**
 * A user id as the library keeps it: a non-empty string of at most {@link MAX_USER_ID_LENGTH}
 * characters, or a finite number as its string form; undefined for anything else.
 */
export function toUserId(value: unknown): string | undefined {
  const id = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  return typeof id === 'string' && id !== '' && id.length <= MAX_USER_ID_LENGTH ? id : undefined;
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

import type { PublicSessionIds } from './public-session-id';
import { SessionHandle, storedKeyOf } from './session';
import type { OwnedSession, SessionIndex } from './session-index';
import { MAX_USER_ID_LENGTH, toUserId } from './session-owner';

/** One of a user's sessions, as a "your devices" page shows it. */
export interface UserSession {
  /**
   * An opaque id for this session, to pass back to {@link SessionService.revoke}. Never the
   * session id nor its store key (it is the store key sealed under the key ring); stable while
   * the current secret is, so it can key a list in a client.
   */
  readonly id: string;
  readonly userId: string;
  /** When the user signed in on this device. */
  readonly createdAt: Date;
  /**
   * The last recorded activity. Recorded at most once per touch interval (a tenth of the idle
   * timeout, at most a minute), so it may lag the true last request by that much.
   */
  readonly lastSeenAt: Date;
  /** When the session ends unless it is used again. */
  readonly expiresAt: Date;
  /** The client's address at sign-in, when known. */
  readonly ip?: string;
  /** The `User-Agent` at sign-in, when known (at most 512 characters; show it escaped). */
  readonly userAgent?: string;
  /** Whether this is the session of the request that asked (see `options.current`). */
  readonly current: boolean;
}

/** What {@link SessionService} works on: the per-user index and the public ids (`SessionManager` has both). */
export interface SessionDirectory {
  readonly index: SessionIndex;
  readonly publicIds: PublicSessionIds;
}

/** Options of {@link SessionService.listForUser}. */
export interface ListSessionsOptions {
  /** The asking request's session, marked `current: true` in the list. */
  readonly current?: SessionHandle;
}

/** Options of {@link SessionService.revoke}. */
export interface RevokeSessionOptions {
  /** Revoke only if the session belongs to this user (what a "sign out this device" button needs). */
  readonly userId?: string | number;
}

/** Options of {@link SessionService.revokeAllForUser}. */
export interface RevokeAllOptions {
  /** A session to keep: the current request's session, or a {@link UserSession.id}. */
  readonly except?: SessionHandle | string;
}

/**
 * A user's sessions across devices: list them, sign one out, sign out everywhere. Works in both
 * modes and with every store that lists per user (MemcachedStore cannot: the methods that list
 * reject with a `SessionError` coded `USER_INDEX_UNSUPPORTED`). Revocation takes effect on the
 * session's next request, on every instance sharing the store. Store failures reject with a
 * `SessionStoreError` (a 503 through the module's filter).
 *
 * @example
 * // After a password change: sign out every other device, keep this one.
 * await sessions.revokeAllForUser(user.id, { except: session });
 */
export class SessionService {
  readonly #index: SessionIndex;
  readonly #ids: PublicSessionIds;

  /** @param sessions - Where the sessions are indexed and how they are named (the `SessionManager`). */
  constructor(sessions: SessionDirectory) {
    ({ index: this.#index, publicIds: this.#ids } = sessions);
  }

  /** Whether the store can list sessions per user (false with MemcachedStore). */
  get canListSessions(): boolean {
    return this.#index.listsByUser;
  }

  /**
   * The {@link UserSession.id} the request's session is listed under, or undefined while it has
   * never been stored (an anonymous session nobody wrote to).
   */
  idOf(session: SessionHandle): string | undefined {
    const key = storedKeyOf(checkHandle(session));
    return key === undefined ? undefined : this.#ids.of(key);
  }

  /**
   * Whether `id` (a {@link UserSession.id}) names the request's own session: compares the
   * sessions, not the strings, so an id listed before a secret rotation still matches.
   */
  isCurrent(id: string, session: SessionHandle): boolean {
    if (typeof id !== 'string') return false;
    const key = storedKeyOf(checkHandle(session));
    return key !== undefined && this.#ids.open(id) === key;
  }

  /** The live sessions of `userId`, oldest sign-in first. */
  async listForUser(userId: string | number, options: ListSessionsOptions = {}): Promise<UserSession[]> {
    const currentKey = options.current === undefined ? undefined : storedKeyOf(checkHandle(options.current));
    const found = await this.#index.list(checkUserId(userId));
    return found.map((session) => this.#describe(session, currentKey));
  }

  /**
   * Signs one session out: it is anonymous on its next request. Resolves with whether a session
   * was revoked (false for an unknown or foreign id, or one already gone).
   * @param id - A {@link UserSession.id}.
   */
  async revoke(id: string, options: RevokeSessionOptions = {}): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError('SessionService.revoke(id): id must be a UserSession id (a string)');
    const expectedUser = options.userId === undefined ? undefined : checkUserId(options.userId);
    const session = await this.#find(id);
    if (!session || (expectedUser !== undefined && session.owner.userId !== expectedUser)) return false;
    await this.#index.revoke(session, 'revoked');
    return true;
  }

  /**
   * Signs `userId` out everywhere, except `options.except` (say, the device that asked). Resolves
   * with how many sessions were revoked.
   */
  async revokeAllForUser(userId: string | number, options: RevokeAllOptions = {}): Promise<number> {
    const id = checkUserId(userId);
    const except = options.except;
    let keptKey: string | undefined;
    if (except instanceof SessionHandle) keptKey = storedKeyOf(except);
    else if (typeof except === 'string') keptKey = (await this.#find(except))?.key;
    else if (except !== undefined) throw new TypeError('SessionService.revokeAllForUser: except must be a session or a UserSession id');
    let revoked = 0;
    for (const session of await this.#index.list(id)) {
      if (session.key === keptKey) continue;
      await this.#index.revoke(session, 'revoke-all');
      revoked += 1;
    }
    return revoked;
  }

  /** The signed-in session a public id names, or undefined for a foreign id or a session gone. */
  async #find(publicId: string): Promise<OwnedSession | undefined> {
    const key = this.#ids.open(publicId);
    return key === undefined ? undefined : this.#index.find(key);
  }

  #describe(session: OwnedSession, currentKey: string | undefined): UserSession {
    const { record, owner } = session;
    return {
      id: this.#ids.of(session.key),
      userId: owner.userId,
      createdAt: new Date(record.createdAt),
      lastSeenAt: new Date(record.touchedAt),
      expiresAt: new Date(record.expiresAt),
      ...(owner.ip === undefined ? {} : { ip: owner.ip }),
      ...(owner.userAgent === undefined ? {} : { userAgent: owner.userAgent }),
      current: session.key === currentKey,
    };
  }
}

function checkUserId(userId: unknown): string {
  const id = toUserId(userId);
  if (id === undefined) {
    throw new TypeError(`SessionService: userId must be a non-empty, well-formed string of at most ${MAX_USER_ID_LENGTH} characters or a finite number`);
  }
  return id;
}

function checkHandle(session: unknown): SessionHandle {
  if (!(session instanceof SessionHandle)) throw new TypeError("SessionService: expected the request's session (@Session() or req.session)");
  return session;
}

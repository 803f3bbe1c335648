import { createHmac } from 'node:crypto';
import { openCookieValue, sealCookieValue } from './cookie-sealer';
import type { KeyRing } from './key-ring';

// What the sealed value is for: a public id never opens as a cookie, nor a cookie as a public id.
const CONTEXT = 'nest-session-auth/v1/public-session-id';
const NONCE_LABEL = 'nest-session-auth/v1/public-session-id-nonce:';
/** Store keys are SHA-256 digests in base64url; anything else inside a sealed id is refused. */
const STORE_KEY = /^[A-Za-z0-9_-]{43}$/;

/** Bound to the cookie name too, so two applications sharing a secret do not take each other's ids. */
function contextOf(cookieName: string): string {
  return `${CONTEXT}:${cookieName}`;
}

/**
 * The id a session is shown under in "your sessions" lists (`UserSession.id`): the store key
 * sealed with AES-256-GCM under the key ring, so it names one session to the server without
 * telling anyone the session id or the store key. Stable for a session while the current secret
 * stays the same (the nonce is an HMAC of the key: the same key always seals to the same value,
 * and equal values are all it reveals), so a client can use it as a list key.
 */
export function sealPublicSessionId(storeKey: string, keyRing: KeyRing, cookieName: string): string {
  const nonce = createHmac('sha256', keyRing.currentSigningKey).update(NONCE_LABEL).update(storeKey).digest().subarray(0, 12);
  return sealCookieValue(storeKey, keyRing, contextOf(cookieName), () => nonce);
}

/** The store key inside a public id, or undefined for anything this key ring did not seal. */
export function openPublicSessionId(publicId: unknown, keyRing: KeyRing, cookieName: string): string | undefined {
  if (typeof publicId !== 'string' || publicId.length > 256) return undefined;
  const opened = openCookieValue(publicId, keyRing, contextOf(cookieName));
  return opened && STORE_KEY.test(opened.plaintext) ? opened.plaintext : undefined;
}

/** The public ids of one application's sessions: its key ring and cookie name, bound once. */
export class PublicSessionIds {
  readonly #keyRing: KeyRing;
  readonly #cookieName: string;

  constructor(keyRing: KeyRing, cookieName: string) {
    this.#keyRing = keyRing;
    this.#cookieName = cookieName;
  }

  /** The id the session under `storeKey` is shown under (see `UserSession.id`). */
  of(storeKey: string): string {
    return sealPublicSessionId(storeKey, this.#keyRing, this.#cookieName);
  }

  /** The store key a public id names, or undefined for anything these keys did not seal. */
  open(publicId: unknown): string | undefined {
    return openPublicSessionId(publicId, this.#keyRing, this.#cookieName);
  }
}

import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { App } from 'supertest/types';
import request from 'supertest';
import { SESSION_STORE, type SessionStore } from '@app/session';
import { openCookieValue, sealCookieValue } from '@app/session/core/cookie-sealer';
import { signSessionId } from '@app/session/core/cookie-signer';
import { KeyRing } from '@app/session/core/key-ring';
import { encodeSealedSession, parseSealedSession } from '@app/session/core/sealed-session';
import { generateSessionId, hashSessionId } from '@app/session/core/session-id';
import { createExampleApp, TEST_SECRET } from '../support/example-app';
import { cookieValueOf, SESSION_COOKIE, sessionCookieOf, sessionIdOf } from '../support/cookies';

/** The security suites run in both modes: SESSION_STORE=cookie selects client-side sessions. */
export const CLIENT_SIDE = process.env.SESSION_STORE === 'cookie';

/** What a browser sends when it navigates to a page. */
export const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
export const ALICE = { username: 'alice', password: 'alice-password' } as const;
export const ADMIN = { username: 'admin', password: 'admin-password' } as const;
/** A secret of "another application": valid format, wrong key. Test-only. */
export const OTHER_SECRET = 'another-apps-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
/** The origin the redirect checks resolve against. */
export const SITE = 'http://app.test';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** The real example app and its HTTP server. */
export interface RunningApp {
  readonly app: INestApplication;
  readonly server: App;
}

export async function startExampleApp(): Promise<RunningApp> {
  const app = await createExampleApp();
  return { app, server: app.getHttpServer() as App };
}

/** A JSON login; returns the session cookie (`sid=...`) it issued. */
export async function logInAs(server: App, credentials: Credentials, cookieHeader?: string): Promise<string> {
  const req = request(server).post('/login').set('Accept', 'application/json');
  if (cookieHeader !== undefined) req.set('Cookie', cookieHeader);
  const res = await req.send(credentials);
  expect(res.status).toBe(200);
  return sessionCookieOf(res);
}

/** Submits the login form as a browser does (303 on success). */
export function submitLoginForm(server: App, credentials: Credentials, cookieHeader?: string): request.Test {
  const req = request(server).post('/login').type('form').set('Accept', BROWSER_ACCEPT);
  if (cookieHeader !== undefined) req.set('Cookie', cookieHeader);
  return req.send(credentials);
}

/** GET /me as an API client, with the given raw Cookie header (or none). */
export function whoAmI(server: App, cookieHeader?: string): request.Test {
  const req = request(server).get('/me').set('Accept', 'application/json');
  return cookieHeader === undefined ? req : req.set('Cookie', cookieHeader);
}

/** Asserts a Cookie header signs nobody in: /me is 401 (never a 5xx, never a user). */
export async function shouldNotAuthenticate(server: App, cookieHeader: string): Promise<void> {
  const res = await whoAmI(server, cookieHeader);
  expect({ cookieHeader, status: res.status }).toEqual({ cookieHeader, status: 401 });
  expect(res.body).not.toHaveProperty('username');
}

/** The same string with the character at `index` replaced by another base64url character. */
export function flipCharacter(value: string, index: number): string {
  const replacement = value[index] === 'A' ? 'B' : 'A';
  return `${value.slice(0, index)}${replacement}${value.slice(index + 1)}`;
}

/** The app's key ring (test secret), to read what the app put in a cookie. */
export function appKeyRing(): KeyRing {
  return KeyRing.fromSecrets([TEST_SECRET]);
}

/** Another application's key ring: a valid key, just not this app's. */
export function otherKeyRing(): KeyRing {
  return KeyRing.fromSecrets([OTHER_SECRET]);
}

/**
 * A cookie value an attacker can make up, with the exact shape the mode expects: `id.signature`
 * (random signature) server-side; client-side a session sealed with another application's key,
 * claiming to be admin.
 */
export function forgedCookieValue(id: string = generateSessionId()): string {
  if (!CLIENT_SIDE) return `${id}.${randomBytes(32).toString('base64url')}`;
  return sealSession(otherKeyRing(), id, { user: { id: 'admin', username: 'admin', roles: ['admin'] } });
}

/** A client-side session payload sealed with `keyRing` for the example's cookie name. */
export function sealSession(keyRing: KeyRing, id: string, data: Record<string, unknown>): string {
  const now = Date.now();
  return sealCookieValue(encodeSealedSession({ v: 1, i: id, c: now, t: now, d: data }), keyRing, SESSION_COOKIE);
}

/** Signs a session id as the server-side format does, with the given ring. */
export function signId(id: string, keyRing: KeyRing): string {
  return signSessionId(id, keyRing);
}

/**
 * The session id a cookie (`sid=...`) carries, read with the app's key: the part before the dot
 * server-side, the sealed payload's id client-side. Undefined when the app would not accept it.
 */
export function sessionIdInside(pair: string): string | undefined {
  if (!CLIENT_SIDE) return sessionIdOf(pair);
  const opened = openCookieValue(cookieValueOf(pair), appKeyRing(), SESSION_COOKIE);
  return opened ? parseSealedSession(opened.plaintext)?.i : undefined;
}

/** Server-side: whether the store still holds a record for this session id. */
export async function storeHoldsSession(app: INestApplication, id: string): Promise<boolean> {
  const store = app.get<SessionStore>(SESSION_STORE, { strict: false });
  return (await store.get(hashSessionId(id))) !== undefined;
}

/**
 * Asserts a redirect target stays on this site: a path with a single leading slash (not `//host`
 * or `/\host`, which browsers read as another host), resolving to the same origin.
 */
export function shouldStayOnSite(location: unknown): string {
  expect(typeof location).toBe('string');
  const value = String(location);
  expect({ value, startsWithSlash: value.startsWith('/') }).toEqual({ value, startsWithSlash: true });
  expect({ value, protocolRelative: value.startsWith('//') || value.startsWith('/\\') }).toEqual({ value, protocolRelative: false });
  // eslint-disable-next-line no-control-regex -- a control character in a Location is the attack
  expect({ value, controlCharacters: /[\u0000-\u001f\u007f]/.test(value) }).toEqual({ value, controlCharacters: false });
  expect(new URL(value, SITE).origin).toBe(SITE);
  return value;
}

/** The median of a list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 0 ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle];
}

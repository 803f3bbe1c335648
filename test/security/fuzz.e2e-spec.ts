import type { INestApplication } from '@nestjs/common';
import { randomInt } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQueryString } from 'node:querystring';
import { createExampleApp } from '../support/example-app';

// Fuzzes the example app with random `Cookie` headers and random login bodies. Every request must
// get a non-5xx answer, the server must keep answering, and nothing but the right password (or the
// exact cookie it issued) may authenticate. The run is reproducible: FUZZ_SEED=<printed seed>.

const COOKIE_REQUESTS = 10_000;
const LOGIN_BODIES = 2_000;
const CONCURRENCY = 32;
/** Generous bound per fuzz run (each takes a few seconds on two cores). */
const FUZZ_TIMEOUT_MS = 120_000;
/** The passwords of the demo accounts: no generated body may carry one of these pairs. */
const DEMO_CREDENTIALS: ReadonlyArray<readonly [string, string]> = [
  ['alice', 'alice-password'],
  ['admin', 'admin-password'],
];

const SEED = process.env.FUZZ_SEED !== undefined && process.env.FUZZ_SEED.trim() !== '' ? Number(process.env.FUZZ_SEED) >>> 0 : randomInt(0, 2 ** 32);

// --- A seeded PRNG (mulberry32) and helpers ------------------------------------------------------

class Random {
  /** A float in [0, 1). */
  readonly next: () => number;

  constructor(seed: number) {
    let state = seed >>> 0;
    this.next = () => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** A length skewed towards short: mostly small, sometimes up to `max`. */
  length(max: number): number {
    const roll = this.next();
    if (roll < 0.6) return this.int(0, Math.min(16, max));
    if (roll < 0.9) return this.int(0, Math.min(200, max));
    return this.int(0, max);
  }
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Characters Node's HTTP client sends in a header value: HTAB, visible ASCII, space, obs-text. */
const HEADER_SAFE = [9, ...Array.from({ length: 0x7e - 0x20 + 1 }, (_, index) => 0x20 + index), ...Array.from({ length: 0x80 }, (_, index) => 0x80 + index)]
  .map((code) => String.fromCharCode(code));
const COOKIE_OCTETS = [...'!#$%&\'()*+-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~'];
const TRICKY_NAMES = ['sid', 'SID', 'Sid', ' sid', 'sid ', 'sid\t', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__Host-sid', '__Secure-sid', 'sid.sig', '', '$Version', 'sid[]', 'sid%00'];

/** Node refuses header values with other characters (ERR_INVALID_CHAR): keep to what it sends. */
function isSendableHeaderValue(value: string): boolean {
  return !/[^\t\x20-\x7e\x80-\xff]/.test(value);
}

const CHUNK = 128;

/**
 * `length` characters from `alphabet`. Long strings are random chunks joined with random cuts,
 * which keeps generating thousands of multi-kilobyte headers cheap.
 */
function randomString(random: Random, alphabet: readonly string[] | string, length: number): string {
  if (length > CHUNK * 2) {
    const chunk = randomString(random, alphabet, CHUNK);
    const parts: string[] = [];
    for (let total = 0; total < length; ) {
      const part = random.chance(0.3) ? randomString(random, alphabet, random.int(1, 16)) : chunk.slice(random.int(0, CHUNK - 1));
      parts.push(part);
      total += part.length;
    }
    return parts.join('').slice(0, length);
  }
  const chars = new Array<string>(length);
  for (let index = 0; index < length; index++) chars[index] = alphabet[Math.floor(random.next() * alphabet.length)];
  return chars.join('');
}

function percentEncodeSome(random: Random, text: string): string {
  return [...text].map((char) => (random.chance(0.3) ? `%${char.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}` : char)).join('');
}

// --- Cookie headers ---------------------------------------------------------------------------

interface RealCookies {
  /** The value of alice's authenticated session cookie: never sent as-is by the fuzzer. */
  readonly authenticated: string;
  /** The value of an anonymous session cookie (a session with a visit count, no user). */
  readonly anonymous: string;
}

/** One random change that always alters a cookie value. */
function mutateValue(random: Random, value: string): string {
  const position = random.int(0, Math.max(0, value.length - 1));
  switch (random.int(0, 13)) {
    case 0: {
      // Replace one character with a different base64url character (still matches the format).
      const current = value[position];
      const choices = [...BASE64URL].filter((char) => char !== current);
      return value.slice(0, position) + random.pick(choices) + value.slice(position + 1);
    }
    case 1:
      return value.slice(0, position) + value.slice(position + 1);
    case 2:
      return value.slice(0, position) + random.pick(HEADER_SAFE) + value.slice(position);
    case 3:
      return value.slice(0, random.int(0, Math.max(0, value.length - 1)));
    case 4:
      return value + randomString(random, BASE64URL, random.int(1, 8));
    case 5: {
      const dot = value.indexOf('.');
      return dot === -1 ? `${value}.${value}` : `${value.slice(dot + 1)}.${value.slice(0, dot)}`;
    }
    case 6:
      return value.replace('.', random.pick(['', '..', '=', '%2E', ' ', ';', ',']));
    case 7:
      return value.toUpperCase() === value ? `${value.toLowerCase()}x` : value.toUpperCase();
    case 8:
      return `${value}${'='.repeat(random.int(1, 2))}`;
    case 9:
      return `${value.slice(0, position)}${value[position] === 'A' ? 'B' : 'A'}${value.slice(position + 1)}`;
    case 10:
      return value.repeat(random.int(2, 4));
    case 11:
      return `${value.slice(0, 43)}.${randomString(random, BASE64URL, 43)}`;
    case 12:
      return `${randomString(random, BASE64URL, 43)}.${value.slice(44)}`;
    default:
      return `${value}\u0000`.replace('\u0000', random.pick(['\t', ' x', '\u00ff', '\u0080', '"']));
  }
}

/** Wraps a value in quoting, percent-encoding or whitespace, as sloppy clients and attackers do. */
function dressValue(random: Random, value: string): string {
  switch (random.int(0, 5)) {
    case 0:
      return `"${value}"`;
    case 1:
      return percentEncodeSome(random, value);
    case 2:
      return `${random.pick([' ', '\t', '  '])}${value}${random.pick(['', ' ', '\t'])}`;
    case 3:
      return `"${value}`;
    default:
      return value;
  }
}

function randomCookieValue(random: Random, real: RealCookies): string {
  switch (random.int(0, 9)) {
    case 0:
    case 1:
      return dressValue(random, mutateValue(random, real.authenticated));
    case 2:
      return dressValue(random, mutateValue(random, mutateValue(random, real.authenticated)));
    case 3:
      // The anonymous cookie may be sent exactly or dressed up: it is valid but not signed in.
      return dressValue(random, random.chance(0.5) ? real.anonymous : mutateValue(random, real.anonymous));
    case 4:
      return `${randomString(random, BASE64URL, 43)}.${randomString(random, BASE64URL, 43)}`;
    case 5:
      return randomString(random, HEADER_SAFE.filter((char) => char !== ';'), random.length(300));
    case 6:
      return percentEncodeSome(random, randomString(random, COOKIE_OCTETS, random.length(120)));
    case 7:
      return `%${randomString(random, 'GZ%0123456789abcdefu', random.int(0, 6))}`;
    case 8:
      return randomString(random, COOKIE_OCTETS, random.int(1_000, 6_000));
    default:
      return random.pick(['', '"', '""', '=', 'undefined', 'null', '[object Object]', '{}', '__proto__', 'j:{"user":{"id":"alice"}}', 's:x.y']);
  }
}

function randomCookieName(random: Random): string {
  if (random.chance(0.55)) return 'sid';
  if (random.chance(0.6)) return random.pick(TRICKY_NAMES);
  return randomString(random, COOKIE_OCTETS.filter((char) => char !== '=' && char !== ';'), random.int(0, 12));
}

/** A random `Cookie` header: random bytes, mutated real cookies, duplicates, many cookies. */
function randomCookieHeader(random: Random, real: RealCookies): string {
  const kind = random.int(0, 9);
  if (kind === 0) return randomString(random, HEADER_SAFE, random.length(6_000));
  if (kind === 1) {
    // Many small cookies, sometimes hiding a session cookie among them.
    const count = random.int(20, 300);
    const pairs = Array.from({ length: count }, (_, index) => `c${index}=${randomString(random, COOKIE_OCTETS.filter((char) => char !== ';'), random.int(0, 20))}`);
    pairs.splice(random.int(0, count), 0, `sid=${randomCookieValue(random, real)}`);
    return pairs.join(random.pick(['; ', ';', ' ; ']));
  }
  const count = kind <= 5 ? 1 : random.int(2, 6);
  const pairs: string[] = [];
  for (let index = 0; index < count; index++) {
    const name = kind === 9 ? 'sid' : randomCookieName(random); // kind 9: duplicated session cookies
    const value = randomCookieValue(random, real);
    pairs.push(random.chance(0.05) ? name : `${name}=${value}`);
  }
  return pairs.join(random.pick(['; ', ';', ',', ' ;', ';;']));
}

/**
 * True when the header holds the real authenticated cookie value as one of its tokens, however
 * decoded (split at separators, whitespace and quotes, percent-decoded): such a header carries
 * the credential itself and is never sent. Mutations (one character changed, text appended,
 * repeated...) are not tokens equal to it and are sent.
 */
function carriesRealCredential(header: string, real: RealCookies): boolean {
  // Only a header with the value's start, or with percent-encoding, can hold it.
  if (!header.includes(real.authenticated.slice(0, 8)) && !header.includes('%')) return false;
  const separators = /[;,\s"'=]+/;
  const tokens = new Set(header.split(separators));
  for (const token of [...tokens]) {
    try {
      for (const decoded of decodeURIComponent(token).split(separators)) tokens.add(decoded);
    } catch {
      // not percent-decodable: the raw token is checked
    }
  }
  return tokens.has(real.authenticated);
}

// --- Login bodies -----------------------------------------------------------------------------

interface LoginBody {
  readonly contentType: string | undefined;
  readonly body: Buffer;
  readonly description: string;
}

const NEAR_MISS_USERNAMES = ['alice', 'admin', 'Alice', 'ALICE', ' alice', 'alice ', 'alic', 'alicee', 'admin\u0000', 'root', 'alice\u200b', 'a\u0301lice', '__proto__', 'constructor'];
const NEAR_MISS_PASSWORDS = [
  'alice-password ',
  ' alice-password',
  'Alice-password',
  'alice-passwor',
  'alice-passwordd',
  'alice-password\u0000',
  'alice-password\u0000x',
  'admin-password\n',
  'admin-passworD',
  'admin-password\u0000admin',
  'alice-password\ud800',
  'alice\u2010password',
  'admin-password'.repeat(6),
  'x'.repeat(72),
  '\u00e9'.repeat(36),
  'password',
  '',
];

function randomText(random: Random, max: number): string {
  const pools = [
    () => randomString(random, BASE64URL, random.length(max)),
    () => randomString(random, HEADER_SAFE, random.length(max)),
    () => String.fromCharCode(...Array.from({ length: random.length(Math.min(max, 500)) }, () => random.int(0, 0xffff))),
    () => random.pick(['\u0000', '\ud800', '\udfff', '\ud83d\ude00', '\u202e', '\ufeff', '\\', '"', '%00', '+', '&', '=']).repeat(random.int(1, 40)),
    () => 'A'.repeat(random.int(60, 20_000)),
    () => random.pick([...NEAR_MISS_USERNAMES, ...NEAR_MISS_PASSWORDS]),
  ];
  return random.pick(pools)();
}

function randomJsonValue(random: Random, depth: number): unknown {
  const roll = random.int(0, depth > 3 ? 5 : 8);
  switch (roll) {
    case 0:
      return null;
    case 1:
      return random.chance(0.5);
    case 2:
      return random.pick([0, -1, 1e308, -0, 3.14, Number.MAX_SAFE_INTEGER, 2 ** 64]);
    case 3:
    case 4:
    case 5:
      return randomText(random, 400);
    case 6:
      return Array.from({ length: random.int(0, 4) }, () => randomJsonValue(random, depth + 1));
    default:
      return randomJsonObject(random, depth + 1);
  }
}

function randomJsonObject(random: Random, depth: number): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  const keys = ['username', 'password', '__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'user', 'roles', ''];
  for (let index = random.int(0, 5); index > 0; index--) {
    const key = random.chance(0.8) ? random.pick(keys) : randomText(random, 20);
    Object.defineProperty(object, key, { value: randomJsonValue(random, depth), enumerable: true, configurable: true, writable: true });
  }
  return object;
}

/** JSON text with possibly duplicated, `__proto__` and wrongly typed keys; sometimes broken. */
function randomJsonText(random: Random): string {
  switch (random.int(0, 9)) {
    case 0: {
      // Deep nesting.
      const depth = random.int(100, 5_000);
      return `${'{"username":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
    }
    case 1:
      return `${'['.repeat(random.int(1, 8_000))}`;
    case 2:
      // Text that is not JSON at all, or JSON cut short.
      return random.chance(0.5) ? randomText(random, 2_000) : JSON.stringify(randomJsonObject(random, 0)).slice(0, -random.int(1, 5));
    case 3:
      return JSON.stringify(randomJsonValue(random, 5));
    case 4: {
      // Duplicated keys: which one wins is up to the parser; none may be the right pair.
      const parts = Array.from({ length: random.int(2, 6) }, () => `${JSON.stringify(random.pick(['username', 'password', '__proto__']))}:${JSON.stringify(randomJsonValue(random, 2))}`);
      return `{${parts.join(',')}}`;
    }
    case 5:
    case 6: {
      // Well-formed strings: these reach bcrypt (kept rare, bcrypt is slow), always with a wrong pair.
      const username = random.pick(NEAR_MISS_USERNAMES);
      const password = random.chance(0.7) ? random.pick(NEAR_MISS_PASSWORDS) : randomString(random, BASE64URL, random.int(1, 30));
      const escaped = JSON.stringify({ username, password }).replace(/[a-z]/g, (char) => (random.chance(0.1) ? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}` : char));
      return escaped;
    }
    case 7:
      return `{"__proto__":{"username":"alice","password":"alice-password"},"constructor":{"prototype":{"username":"admin"}}${random.chance(0.5) ? ',"username":"alice"' : ''}}`;
    default:
      return JSON.stringify(randomJsonObject(random, 0));
  }
}

/** A form body with random, duplicated and bracketed keys. */
function randomFormText(random: Random): string {
  const keys = ['username', 'password', 'username[]', 'password[]', '__proto__', '__proto__[username]', 'constructor[prototype][password]', 'user', ''];
  const count = random.chance(0.1) ? random.int(15, 40) : random.int(0, 6);
  const pairs: string[] = [];
  for (let index = 0; index < count; index++) {
    const key = random.chance(0.85) ? random.pick(keys) : randomText(random, 20);
    const value = random.chance(0.5) ? random.pick([...NEAR_MISS_USERNAMES, ...NEAR_MISS_PASSWORDS]) : randomText(random, 300);
    const encode = (text: string) => (random.chance(0.8) ? encodeURIComponent(text.replace(/[\ud800-\udfff]/g, '\ufffd')) : text);
    pairs.push(random.chance(0.05) ? encode(key) : `${encode(key)}=${encode(value)}`);
  }
  return pairs.join(random.pick(['&', '&&', ';']));
}

/** True when the server could read the body as a right username/password pair. */
function holdsRightPair(body: LoginBody): boolean {
  const texts = [body.body.toString('utf8'), body.body.toString('latin1')];
  const pairs: Array<[unknown, unknown]> = [];
  for (const text of texts) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object') {
        const fields = parsed as Record<string, unknown>;
        pairs.push([fields.username, fields.password]);
      }
    } catch {
      // not JSON
    }
    const query = parseQueryString(text);
    pairs.push([query.username, query.password]);
    const search = new URLSearchParams(text);
    pairs.push([search.getAll('username'), search.getAll('password')]);
  }
  const values = (field: unknown): unknown[] => (Array.isArray(field) ? field : [field]);
  return pairs.some(([username, password]) =>
    DEMO_CREDENTIALS.some(([user, secret]) => values(username).includes(user) && values(password).includes(secret)),
  );
}

function randomLoginBody(random: Random): LoginBody {
  const roll = random.next();
  let contentType: string | undefined;
  let text: string;
  if (roll < 0.55) {
    contentType = random.pick(['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/JSON', 'application/vnd.api+json']);
    text = randomJsonText(random);
  } else if (roll < 0.9) {
    contentType = random.pick(['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'application/x-www-form-urlencoded; charset=iso-8859-1', 'application/x-www-form-urlencoded; charset=bogus']);
    text = randomFormText(random);
  } else {
    contentType = random.pick([undefined, 'text/plain', 'multipart/form-data; boundary=x', 'application/xml', '*/*', 'application/json, application/x-www-form-urlencoded']);
    text = random.chance(0.5) ? randomJsonText(random) : randomFormText(random);
  }
  return { contentType, body: Buffer.from(text, 'utf8'), description: `${contentType ?? '(no content type)'} ${JSON.stringify(text.slice(0, 200))}${text.length > 200 ? `… (${text.length} chars)` : ''}` };
}

// --- Sending ----------------------------------------------------------------------------------

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | number>;
  readonly body?: Buffer;
}

function send(port: number, agent: Agent, sent: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = sent.body === undefined ? sent.headers : { ...sent.headers, 'Content-Length': sent.body.length };
    const outgoing = httpRequest({ host: '127.0.0.1', port, method: sent.method, path: sent.path, headers, agent }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks).toString('utf8') }));
      incoming.on('error', reject);
    });
    outgoing.setTimeout(10_000, () => outgoing.destroy(new Error(`no answer within 10 s`)));
    outgoing.on('error', reject);
    outgoing.end(sent.body);
  });
}

/** Runs `tasks` with at most `limit` in flight. */
async function inBatches(count: number, limit: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

function sessionCookieOf(answer: Answer): string | undefined {
  const header = (answer.headers['set-cookie'] ?? []).find((value) => value.startsWith('sid=') && !/;\s*Max-Age=0/i.test(value));
  return header?.split(';')[0];
}

// --- The suite --------------------------------------------------------------------------------

describe(`Fuzzing the example app (FUZZ_SEED=${SEED}, SESSION_STORE=${process.env.SESSION_STORE ?? 'memory'})`, () => {
  let app: INestApplication;
  let port: number;
  let agent: Agent;
  let real: RealCookies;

  /** Logs in for real and returns the session cookie pair (`sid=...`). */
  async function logIn(username: string, password: string): Promise<string> {
    const body = Buffer.from(JSON.stringify({ username, password }));
    const answer = await send(port, agent, { method: 'POST', path: '/login', headers: { 'Content-Type': 'application/json' }, body });
    expect(answer.status).toBe(200);
    const cookie = sessionCookieOf(answer);
    if (cookie === undefined) throw new Error('login set no session cookie');
    return cookie;
  }

  /**
   * Drops idle keep-alive sockets: generating the cases takes a while, and the server may close an
   * idle connection just as the client reuses it (a client-side race, not a server failure).
   */
  function freshConnections(): void {
    agent.destroy();
    agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  }

  async function whoIs(cookie: string): Promise<Answer> {
    return send(port, agent, { method: 'GET', path: '/me', headers: { Cookie: cookie } });
  }

  beforeAll(async () => {
    console.info(`fuzz seed: ${SEED} (rerun with FUZZ_SEED=${SEED})`);
    app = await createExampleApp();
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
    agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

    const authenticated = await logIn('alice', 'alice-password');
    const visit = await send(port, agent, { method: 'POST', path: '/visits', headers: {} });
    expect(visit.status).toBe(200);
    const anonymous = sessionCookieOf(visit);
    if (anonymous === undefined) throw new Error('POST /visits set no session cookie');
    real = { authenticated: authenticated.slice('sid='.length), anonymous: anonymous.slice('sid='.length) };
    expect((await whoIs(authenticated)).status).toBe(200);
    expect((await whoIs(anonymous)).status).toBe(401);
  });

  afterAll(async () => {
    agent?.destroy();
    await app?.close();
  });

  it(`answers ${COOKIE_REQUESTS} random Cookie headers without a 5xx, and none of them authenticates`, async () => {
    const random = new Random(SEED);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const targets = [
      { method: 'GET', path: '/me', signedInWhen: (answer: Answer) => answer.status === 200 },
      { method: 'GET', path: '/me', signedInWhen: (answer: Answer) => answer.status === 200 },
      { method: 'GET', path: '/me', signedInWhen: (answer: Answer) => answer.status === 200 },
      { method: 'GET', path: '/me', signedInWhen: (answer: Answer) => answer.status === 200 },
      { method: 'GET', path: '/me', signedInWhen: (answer: Answer) => answer.status === 200 },
      { method: 'GET', path: '/', signedInWhen: (answer: Answer) => answer.body.includes('Welcome back') },
      { method: 'GET', path: '/login', signedInWhen: (answer: Answer) => answer.body.includes('You are signed in as') },
      { method: 'GET', path: '/articles/create', signedInWhen: (answer: Answer) => answer.status === 200 },
      { method: 'GET', path: '/admin', signedInWhen: (answer: Answer) => answer.status === 200 },
      { method: 'POST', path: '/visits', signedInWhen: () => false },
      { method: 'POST', path: '/logout', signedInWhen: () => false },
    ];
    // Generated up front, in order, so the seed alone decides every request.
    const cases = Array.from({ length: COOKIE_REQUESTS }, () => {
      let cookie = randomCookieHeader(random, real);
      while (!isSendableHeaderValue(cookie) || carriesRealCredential(cookie, real)) cookie = randomCookieHeader(random, real);
      return { cookie, target: random.pick(targets) };
    });
    freshConnections();
    const started = Date.now();

    await inBatches(cases.length, CONCURRENCY, async (index) => {
      const { cookie, target } = cases[index];
      const what = `#${index} ${target.method} ${target.path} Cookie: ${JSON.stringify(cookie.slice(0, 300))}${cookie.length > 300 ? `… (${cookie.length} chars)` : ''}`;
      try {
        const answer = await send(port, agent, { method: target.method, path: target.path, headers: { Cookie: cookie, Accept: 'application/json' } });
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (answer.status >= 500) failures.push(`${what} -> ${answer.status} ${answer.body.slice(0, 200)}`);
        else if (target.signedInWhen(answer)) failures.push(`${what} -> authenticated (${answer.status})`);
      } catch (error) {
        failures.push(`${what} -> no answer: ${(error as Error).message}`);
      }
    });

    console.info(`cookie fuzz: ${cases.length} requests in ${Date.now() - started} ms, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect({ failed: failures.length, examples: failures.slice(0, 20) }).toEqual({ failed: 0, examples: [] });
    // Still serving, and none of the random cookies (POST /logout with mutations included) ended
    // alice's real session.
    expect((await whoIs(`sid=${real.authenticated}`)).status).toBe(200);
  }, FUZZ_TIMEOUT_MS);

  it(`answers ${LOGIN_BODIES} random login bodies without a 5xx, and none of them signs in`, async () => {
    const random = new Random(SEED ^ 0x5eed);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const cases = Array.from({ length: LOGIN_BODIES }, () => {
      let body = randomLoginBody(random);
      // Never the right password by accident: regenerate any body that could read as one.
      while (holdsRightPair(body)) body = randomLoginBody(random);
      return { ...body, accept: random.chance(0.5) ? 'application/json' : 'text/html' };
    });
    freshConnections();
    const started = Date.now();

    await inBatches(cases.length, CONCURRENCY, async (index) => {
      const body = cases[index];
      const what = `#${index} POST /login ${body.description}`;
      const headers: Record<string, string> = { Accept: body.accept };
      if (body.contentType !== undefined) headers['Content-Type'] = body.contentType;
      try {
        const answer = await send(port, agent, { method: 'POST', path: '/login', headers, body: body.body });
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (answer.status >= 500) {
          failures.push(`${what} -> ${answer.status} ${answer.body.slice(0, 200)}`);
          return;
        }
        if (answer.status === 200 || answer.status === 303) failures.push(`${what} -> signed in (${answer.status})`);
        const cookie = sessionCookieOf(answer);
        if (cookie !== undefined && (await whoIs(cookie)).status === 200) failures.push(`${what} -> issued an authenticated cookie`);
      } catch (error) {
        failures.push(`${what} -> no answer: ${(error as Error).message}`);
      }
    });

    console.info(`login fuzz: ${cases.length} requests in ${Date.now() - started} ms, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect({ failed: failures.length, examples: failures.slice(0, 20) }).toEqual({ failed: 0, examples: [] });
    // Still serving: the right password still signs in.
    const cookie = await logIn('admin', 'admin-password');
    expect(JSON.parse((await whoIs(cookie)).body)).toEqual({ username: 'admin', roles: ['admin'] });
  }, FUZZ_TIMEOUT_MS);
});

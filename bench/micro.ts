/**
 * Micro-benchmark of the session core's hot functions against the equivalents in the peers'
 * stacks, in operations per second: signing and verifying the cookie (cookie-signature, used by
 * express-session; keygrip, used by cookie-session), sealing and opening a client-side session
 * (iron-webcrypto, used by iron-session), reading the `Cookie` header (cookie) and a whole session
 * load + commit. Every case of a group gets the same input, and its answer is checked once before
 * timing, so a broken case fails loudly instead of measuring nothing.
 *
 *   node bench/dist/bench/micro.js [--time=<ms per case>] [--out=<results.json>]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { parseCookie } from 'cookie';
import * as cookieSignature from 'cookie-signature';
import { defaults as ironDefaults, seal as ironSeal, unseal as ironUnseal } from 'iron-webcrypto';
import Keygrip from 'keygrip';
import { Bench, type FnReturnedObject, type Task } from 'tinybench';
import { openCookieValue, sealCookieValue } from '../libs/session/src/core/cookie-sealer';
import { readCookieValues } from '../libs/session/src/core/cookie-header';
import { signSessionId, verifySessionCookie } from '../libs/session/src/core/cookie-signer';
import { KeyRing } from '../libs/session/src/core/key-ring';
import type { SessionData, SessionHandle } from '../libs/session/src/core/session';
import { generateSessionId, hashSessionId } from '../libs/session/src/core/session-id';
import { SessionManager } from '../libs/session/src/core/session-manager';
import { resolveSessionOptions } from '../libs/session/src/core/session-options';
import { MemoryStore } from '../libs/session/src/stores/memory.store';
import { BENCH_SECRET, BENCH_USER } from './apps/bench-user';

/** One measured case of a group. */
export interface MicroCaseResult {
  /** What was called, with the algorithm where it differs between libraries. */
  readonly name: string;
  /** `'ours'`, or the npm package of the peer. */
  readonly library: string;
  /** What the case does; within a group, cases with the same operation are compared. */
  readonly operation: string;
  /** Calls per second: the number of calls divided by the time they took. */
  readonly opsPerSecond: number;
  /** Relative margin of error of the mean time per call, in percent (95% confidence). */
  readonly rme: number;
  /** Timed samples behind the figures (a sample is one call, or a batch of fast calls). */
  readonly samples: number;
}

export interface MicroGroupResult {
  readonly group: string;
  readonly cases: MicroCaseResult[];
}

export interface MicroResult {
  readonly groups: MicroGroupResult[];
  /** Node.js and the peers' package versions the figures were measured with. */
  readonly versions: Readonly<Record<string, string>>;
}

export interface MicroBenchOptions {
  /** Time budget of each case, in milliseconds (a quarter of it again for the warm-up). @default 1000 */
  readonly time?: number;
  /** Told about progress (one line per group); silent by default. */
  readonly log?: (message: string) => void;
}

const DEFAULT_TIME_MS = 1000;
const MIN_TIME_MS = 50;
// The session cases start each timed phase from a freshly signed-in session, and a touch (a store
// write, or a re-seal in cookie mode) falls due 60 s after it. Longer phases would measure touches.
const MAX_TIME_MS = 50_000;
// Long enough that the touch interval, min(60 s, idleTimeout / 10), is at its 60 s cap.
const IDLE_TIMEOUT_MS = 60 * 60_000;
// Fast calls are timed in batches of about this long, so neither the timer's resolution nor the
// cost of reading it (tens of nanoseconds) nor tinybench's own per-sample work weighs on the figure.
const TARGET_SAMPLE_MS = 0.025;
const CALIBRATION_BATCH_MS = 1;
const CALIBRATION_ROUNDS = 10;
const MAX_BATCH = 10_000;
const COOKIE_NAME = 'sid';
const PEERS = ['cookie-signature', 'keygrip', 'iron-webcrypto', 'cookie'] as const;

interface CaseLabel {
  readonly name: string;
  readonly library: string;
  readonly operation: string;
}

/** A case before it is run. */
type MicroCase = CaseLabel & {
  /** Runs before the check and before each timed phase (warm-up and run). */
  readonly prepare?: () => Promise<void>;
  /** Throws unless one call gives the expected answer. */
  readonly check: () => Promise<void>;
} & (
  /** Milliseconds that `size` back-to-back calls take; an async case awaits each call in turn. */
  | { readonly async: false; readonly timeCalls: (size: number) => number }
  | { readonly async: true; readonly timeCalls: (size: number) => Promise<number> }
);

interface MicroGroup {
  readonly group: string;
  /** One line for the printed table: what every case of the group is given. */
  readonly note: string;
  readonly cases: readonly MicroCase[];
}

/** Keeps results alive, so the optimiser cannot drop a call whose value nobody reads. */
const sink: unknown[] = [undefined];

function syncCase<T>(label: CaseLabel, run: () => T, isExpected: (result: T) => boolean): MicroCase {
  return {
    ...label,
    async: false,
    timeCalls: (size) => {
      const start = performance.now();
      for (let call = 0; call < size; call++) sink[0] = run();
      return performance.now() - start;
    },
    check: () => {
      const result = run();
      return isExpected(result) ? Promise.resolve() : Promise.reject(wrongAnswer(label, result));
    },
  };
}

function asyncCase<T>(
  label: CaseLabel,
  run: () => Promise<T>,
  isExpected: (result: T) => boolean,
  prepare?: () => Promise<void>,
): MicroCase {
  return {
    ...label,
    async: true,
    timeCalls: async (size) => {
      const start = performance.now();
      for (let call = 0; call < size; call++) sink[0] = await run();
      return performance.now() - start;
    },
    prepare,
    check: async () => {
      const result = await run();
      if (!isExpected(result)) throw wrongAnswer(label, result);
    },
  };
}

function wrongAnswer(label: CaseLabel, result: unknown): Error {
  const shown = typeof result === 'string' ? result : (JSON.stringify(result) ?? String(result));
  return new Error(`micro bench: "${label.library}: ${label.name}" gave a wrong answer before timing: ${shown}`);
}

/** A copy of a signed value whose signature differs in its first character: same length, same alphabet. */
function forge(signedValue: string): string {
  const at = signedValue.lastIndexOf('.') + 1;
  const replacement = signedValue[at] === 'A' ? 'B' : 'A';
  return `${signedValue.slice(0, at)}${replacement}${signedValue.slice(at + 1)}`;
}

/** A `Cookie` header as a browser sends it to an app with analytics and preferences: five cookies. */
function browserCookieHeader(sessionCookie: string): string {
  return [
    '_ga=GA1.1.1873022471.1718035200',
    'theme=dark',
    sessionCookie,
    'locale=en-GB',
    '_ga_Q7X3M2K9=GS1.1.1718035200.4.1.1718038000.0.0.0',
  ].join('; ');
}

function signingGroups(keyRing: KeyRing, id: string): MicroGroup[] {
  const keygripSha1 = new Keygrip([BENCH_SECRET]);
  const keygripSha256 = new Keygrip([BENCH_SECRET], 'sha256');
  const ours = signSessionId(id, keyRing);
  const bySignature = cookieSignature.sign(id, BENCH_SECRET);
  const sha1Digest = keygripSha1.sign(id);
  const sha256Digest = keygripSha256.sign(id);
  const oursForged = forge(ours);
  const bySignatureForged = forge(bySignature);
  const sign = 'sign';
  const verify = 'verify a valid cookie';
  const verifyForged = 'verify a forged cookie';

  return [
    {
      // Each library HMACs the same 43-character session id with the same secret and returns text
      // for a cookie. Ours uses a key derived once (HKDF) from the secret, the peers the secret as
      // given; keygrip defaults to SHA-1 (what cookie-session uses), so it also runs with SHA-256.
      group: 'sign',
      note: `HMAC of the same 43-character session id, one ${Buffer.byteLength(BENCH_SECRET)}-byte secret`,
      cases: [
        syncCase({ name: 'signSessionId (HMAC-SHA256)', library: 'ours', operation: sign },
          () => signSessionId(id, keyRing), (value) => value === ours),
        syncCase({ name: 'sign (HMAC-SHA256)', library: 'cookie-signature', operation: sign },
          () => cookieSignature.sign(id, BENCH_SECRET), (value) => value === bySignature),
        syncCase({ name: 'sign (HMAC-SHA1, its default)', library: 'keygrip', operation: sign },
          () => keygripSha1.sign(id), (digest) => digest === sha1Digest),
        syncCase({ name: 'sign (HMAC-SHA256)', library: 'keygrip', operation: sign },
          () => keygripSha256.sign(id), (digest) => digest === sha256Digest),
      ],
    },
    {
      // Each checks a signature it made over the same id, in constant time: recompute the HMAC
      // and compare. keygrip is called as cookie-session calls it (`index`, which also says which
      // key of the rotation list matched, as ours does); it compares through tsscmp, which HMACs
      // both sides again under a random key. A forged value (right length and alphabet, wrong
      // signature) costs the same HMAC, and is what an attacker can send freely.
      group: 'verify',
      note: 'the values signed above; forged = same length, first signature character changed',
      cases: [
        syncCase({ name: 'verifySessionCookie (HMAC-SHA256)', library: 'ours', operation: verify },
          () => verifySessionCookie(ours, keyRing), (verified) => verified?.id === id),
        syncCase({ name: 'unsign (HMAC-SHA256)', library: 'cookie-signature', operation: verify },
          () => cookieSignature.unsign(bySignature, BENCH_SECRET), (value) => value === id),
        syncCase({ name: 'index (HMAC-SHA1, its default)', library: 'keygrip', operation: verify },
          () => keygripSha1.index(id, sha1Digest), (index) => index === 0),
        syncCase({ name: 'index (HMAC-SHA256)', library: 'keygrip', operation: verify },
          () => keygripSha256.index(id, sha256Digest), (index) => index === 0),
        syncCase({ name: 'verifySessionCookie, forged value', library: 'ours', operation: verifyForged },
          () => verifySessionCookie(oursForged, keyRing), (verified) => verified === undefined),
        syncCase({ name: 'unsign, forged value', library: 'cookie-signature', operation: verifyForged },
          () => cookieSignature.unsign(bySignatureForged, BENCH_SECRET), (value) => value === false),
      ],
    },
  ];
}

async function sealingGroup(keyRing: KeyRing, id: string): Promise<MicroGroup> {
  // What cookie mode seals for a signed-in user: id, timestamps and the session data.
  const now = Date.now();
  const payload = { v: 1, i: id, c: now, t: now, d: { user: BENCH_USER } };
  const payloadBytes = Buffer.byteLength(JSON.stringify(payload));
  const oursSealed = sealCookieValue(JSON.stringify(payload), keyRing, COOKIE_NAME);
  const ironSealed = await ironSeal(payload, BENCH_SECRET, ironDefaults);
  const seal = 'seal';
  const open = 'open';

  return {
    // Both turn the same object into an encrypted, authenticated cookie value and back, as each
    // library's session layer does it (JSON included on both sides). Ours is AES-256-GCM under a
    // key derived once at startup; iron-webcrypto (iron-session's sealer) with its defaults
    // derives two keys per call (PBKDF2, random salts) for AES-256-CBC + HMAC-SHA256, through the
    // asynchronous WebCrypto API, so its cases are awaited.
    group: 'seal and open',
    note: `the same ${payloadBytes}-byte JSON payload (a signed-in user's client-side session), one secret`,
    cases: [
      syncCase({ name: 'sealCookieValue (AES-256-GCM) + JSON.stringify', library: 'ours', operation: seal },
        () => sealCookieValue(JSON.stringify(payload), keyRing, COOKIE_NAME),
        (value) => {
          const opened = openCookieValue(value, keyRing, COOKIE_NAME);
          return opened !== undefined && isDeepStrictEqual(JSON.parse(opened.plaintext), payload);
        }),
      {
        ...asyncCase({ name: 'seal (AES-256-CBC + HMAC-SHA256, defaults)', library: 'iron-webcrypto', operation: seal },
          () => ironSeal(payload, BENCH_SECRET, ironDefaults), () => true),
        // Checked as ours is: the value must open to the payload.
        check: async () => {
          const value = await ironSeal(payload, BENCH_SECRET, ironDefaults);
          if (!isDeepStrictEqual(await ironUnseal(value, BENCH_SECRET, ironDefaults), payload)) {
            throw new Error('micro bench: "iron-webcrypto: seal" gave a value that does not open to the payload');
          }
        },
      },
      syncCase({ name: 'openCookieValue (AES-256-GCM) + JSON.parse', library: 'ours', operation: open },
        () => {
          const opened = openCookieValue(oursSealed, keyRing, COOKIE_NAME);
          return opened && (JSON.parse(opened.plaintext) as unknown);
        },
        (value) => isDeepStrictEqual(value, payload)),
      asyncCase({ name: 'unseal (AES-256-CBC + HMAC-SHA256, defaults)', library: 'iron-webcrypto', operation: open },
        () => ironUnseal(ironSealed, BENCH_SECRET, ironDefaults),
        (value) => isDeepStrictEqual(value, payload)),
    ],
  };
}

function cookieHeaderGroup(signedId: string): MicroGroup {
  const header = browserCookieHeader(`${COOKIE_NAME}=${signedId}`);
  const parse = 'find the session cookie';
  return {
    // Both take the raw header and give the session cookie's value. cookie builds an object of
    // every cookie (what express-session and cookie-session start from) and percent-decodes
    // values; ours scans for the one name without decoding and keeps duplicates (a tossed cookie
    // must be seen), which is all a session needs.
    group: 'cookie header parse',
    note: `a ${header.length}-character header with 5 cookies, the session cookie third`,
    cases: [
      syncCase({ name: `readCookieValues(header, '${COOKIE_NAME}')`, library: 'ours', operation: parse },
        () => readCookieValues(header, COOKIE_NAME),
        (values) => values.length === 1 && values[0] === signedId),
      syncCase({ name: `parseCookie(header).${COOKIE_NAME}`, library: 'cookie', operation: parse },
        () => parseCookie(header)[COOKIE_NAME],
        (value) => value === signedId),
    ],
  };
}

/** The session as a handler sees it: `SessionHandle` plus its data keys. */
type BenchSession = SessionHandle & SessionData & { visits?: number };

interface HandledRequest {
  readonly session: BenchSession;
  /** The `Set-Cookie` the response gets; undefined when the browser's cookie stays as it is. */
  readonly setCookie: string | undefined;
}

/** What the HTTP adapter does around a handler: load, the handler, commit, then the cookie. */
async function handleRequest(
  manager: SessionManager,
  cookieHeader: string | undefined,
  handler?: (session: BenchSession) => void,
): Promise<HandledRequest> {
  const session = (await manager.load({ cookieHeader, secure: false })) as BenchSession;
  handler?.(session);
  await manager.commit(session);
  return { session, setCookie: manager.setCookieHeader(session) };
}

/** Signs a user in as the login route does; resolves with the `Cookie` header a browser then sends. */
async function signIn(manager: SessionManager): Promise<string> {
  const { session, setCookie } = await handleRequest(manager, undefined);
  await session.login(BENCH_USER);
  await manager.commit(session);
  const issued = manager.setCookieHeader(session);
  const value = issued === undefined ? undefined : readCookieValues(issued.split(';', 1)[0], manager.options.name)[0];
  if (setCookie !== undefined || value === undefined) {
    throw new Error(`micro bench: signing in did not issue one session cookie (got ${String(issued)})`);
  }
  return browserCookieHeader(`${manager.options.name}=${value}`);
}

function isSignedIn({ session, setCookie }: HandledRequest): boolean {
  return !session.isNew && session.user?.id === BENCH_USER.id && setCookie === undefined;
}

function sessionGroup(): MicroGroup {
  const serverSide = new SessionManager(
    resolveSessionOptions({ secret: BENCH_SECRET, idleTimeout: IDLE_TIMEOUT_MS }),
    { store: new MemoryStore() },
  );
  const clientSide = new SessionManager(
    resolveSessionOptions({ secret: BENCH_SECRET, idleTimeout: IDLE_TIMEOUT_MS, mode: 'cookie' }),
    // The revocation list, consulted on every load as in production.
    { store: new MemoryStore() },
  );
  // Each case starts every timed phase from a fresh sign-in, so no touch falls due while it runs.
  let readCookie = '';
  let writeCookie = '';
  let sealedCookie = '';
  const countVisit = (session: BenchSession): void => {
    session.visits = (session.visits ?? 0) + 1;
  };

  return {
    // Ours only: the whole per-request cost of the session layer, without HTTP. express-session
    // has no equivalent entry point: its load and save run inside its middleware, which needs a
    // ServerResponse to patch (`res.end`, `writeHead`) and whose MemoryStore answers every call
    // on a later event-loop turn (setImmediate). Driving it here would time that harness rather
    // than session work; the HTTP benchmark compares the two end to end instead.
    group: 'session load + commit',
    note: `SessionManager + MemoryStore, ${IDLE_TIMEOUT_MS / 60_000}-minute idle timeout (no touch due), then the Set-Cookie decision`,
    cases: [
      asyncCase({ name: 'signed-in session, unchanged (GET /me)', library: 'ours', operation: 'load + commit, signed in' },
        () => handleRequest(serverSide, readCookie),
        isSignedIn,
        async () => void (readCookie = await signIn(serverSide))),
      {
        ...asyncCase({ name: 'signed-in session, one key changed', library: 'ours', operation: 'load + change + commit' },
          () => handleRequest(serverSide, writeCookie, countVisit),
          () => true,
          async () => void (writeCookie = await signIn(serverSide))),
        // The change must have reached the store, not just the object.
        check: async () => {
          const first = await handleRequest(serverSide, writeCookie, countVisit);
          const second = await handleRequest(serverSide, writeCookie);
          const stored = await serverSide.store.get(hashSessionId(second.session.id));
          if (!isSignedIn(first) || second.session.visits !== 1 || stored?.data?.visits !== 1) {
            throw new Error('micro bench: "ours: signed-in session, one key changed" did not store the change');
          }
        },
      },
      asyncCase({ name: 'no cookie (anonymous request)', library: 'ours', operation: 'load + commit, anonymous' },
        () => handleRequest(serverSide, undefined),
        ({ session, setCookie }) => session.isNew && session.user === undefined && setCookie === undefined),
      asyncCase({ name: 'cookie mode: sealed session, unchanged (GET /me)', library: 'ours', operation: 'load + commit, cookie mode' },
        () => handleRequest(clientSide, sealedCookie),
        isSignedIn,
        async () => void (sealedCookie = await signIn(clientSide))),
    ],
  };
}

/**
 * How many calls make one sample of about {@link TARGET_SAMPLE_MS} (one, for calls slower than
 * that): the batch grows until it lasts a millisecond, which also warms the code up, then the
 * fastest of several batches of that size counts, since a pause (GC, compilation) slows only one.
 */
async function batchSize(timeCalls: (size: number) => number | Promise<number>): Promise<number> {
  let size = 1;
  while ((await timeCalls(size)) < CALIBRATION_BATCH_MS) size *= 2;
  let fastest = Number.POSITIVE_INFINITY;
  for (let round = 0; round < CALIBRATION_ROUNDS; round++) fastest = Math.min(fastest, await timeCalls(size));
  return Math.min(MAX_BATCH, Math.max(1, Math.round((TARGET_SAMPLE_MS * size) / fastest)));
}

/** A batch's sample for tinybench: the mean per call, and the whole batch against the time budget. */
function perCall(elapsed: number, size: number): FnReturnedObject {
  return { overriddenDuration: elapsed / size, overriddenIterationCost: elapsed };
}

function taskName(microCase: CaseLabel): string {
  return `${microCase.library}: ${microCase.name}`;
}

function toResult(microCase: MicroCase, task: Task | undefined): MicroCaseResult {
  const result = task?.result;
  if (result?.state !== 'completed') {
    const reason = result?.state === 'errored' ? result.error.message : (result?.state ?? 'missing');
    throw new Error(`micro bench: "${taskName(microCase)}" did not complete (${reason})`);
  }
  return {
    name: microCase.name,
    library: microCase.library,
    operation: microCase.operation,
    // Calls over the time they took, rather than the mean of per-sample rates (which overstates).
    opsPerSecond: 1000 / result.period,
    rme: result.latency.rme,
    samples: result.latency.samplesCount,
  };
}

async function runGroup(group: MicroGroup, time: number): Promise<MicroGroupResult> {
  const bench = new Bench({ name: group.group, time, warmupTime: time / 4, throws: true });
  for (const microCase of group.cases) {
    await microCase.prepare?.();
    await microCase.check();
    const size = await batchSize(microCase.timeCalls);
    // Timed with performance.now(), the clock tinybench itself uses by default.
    const fn = microCase.async
      ? async () => perCall(await microCase.timeCalls(size), size)
      : () => perCall(microCase.timeCalls(size), size);
    bench.add(taskName(microCase), fn, { async: microCase.async, beforeAll: microCase.prepare });
  }
  await bench.run();
  return { group: group.group, cases: group.cases.map((microCase) => toResult(microCase, bench.getTask(taskName(microCase)))) };
}

/** The version of an installed package, from the package.json above its entry point. */
function packageVersion(name: string): string {
  for (let dir = dirname(require.resolve(name)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === name && typeof manifest.version === 'string') return manifest.version;
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

function checkTime(time: number): number {
  if (!Number.isInteger(time) || time < MIN_TIME_MS || time > MAX_TIME_MS) {
    throw new RangeError(`time: must be a whole number of milliseconds from ${MIN_TIME_MS} to ${MAX_TIME_MS} (got ${time})`);
  }
  return time;
}

/** Runs every group, one after the other: 20 cases, about 30 s with the default time. */
export async function runMicroBench(options: MicroBenchOptions = {}): Promise<MicroResult> {
  const time = checkTime(options.time ?? DEFAULT_TIME_MS);
  const log = options.log ?? (() => undefined);
  const keyRing = KeyRing.fromSecrets([BENCH_SECRET]);
  const id = generateSessionId();
  const groups: MicroGroup[] = [
    ...signingGroups(keyRing, id),
    await sealingGroup(keyRing, id),
    cookieHeaderGroup(signSessionId(id, keyRing)),
    sessionGroup(),
  ];
  const results: MicroGroupResult[] = [];
  for (const group of groups) {
    log(`micro: ${group.group} (${group.cases.length} cases, ${group.note})`);
    results.push(await runGroup(group, time));
  }
  const versions: Record<string, string> = { node: process.versions.node };
  for (const peer of PEERS) versions[peer] = packageVersion(peer);
  return { groups: results, versions };
}

/** The groups as text tables: ops/s, margin of error, and how many times faster ours is than each peer. */
export function formatMicroResult(result: MicroResult): string {
  const lines = [`versions: ${Object.entries(result.versions).map(([name, version]) => `${name} ${version}`).join(', ')}`];
  for (const group of result.groups) {
    const rows = group.cases.map((microCase) => {
      const ours = group.cases.find((other) => other.library === 'ours' && other.operation === microCase.operation);
      const ratio = microCase.library === 'ours' || !ours ? '' : `${(ours.opsPerSecond / microCase.opsPerSecond).toFixed(2)}x`;
      return [
        microCase.library,
        microCase.name,
        Math.round(microCase.opsPerSecond).toLocaleString('en-US'),
        `±${microCase.rme.toFixed(2)}%`,
        ratio,
      ];
    });
    const header = ['library', 'case', 'ops/s', '±', 'ours ÷ this'];
    const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
    // Text columns left-aligned, figures right-aligned.
    const format = (row: string[]): string =>
      row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ').trimEnd();
    lines.push('', group.group, format(header), ...rows.map(format));
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { time: { type: 'string' }, out: { type: 'string' } } });
  const started = performance.now();
  const result = await runMicroBench({
    time: values.time === undefined ? undefined : Number(values.time),
    log: (message) => console.error(message),
  });
  console.log(formatMicroResult(result));
  console.log(`\nmicro-benchmark done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (values.out !== undefined) {
    writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`results written to ${values.out}`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

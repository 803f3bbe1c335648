import type { INestApplication } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { AppModule } from '../../apps/example/src/app.module';
import { configureExampleApp, createExampleHttpAdapter } from '../../apps/example/src/app.setup';
import { loadExampleConfig, type ExampleSessionMode } from '../../apps/example/src/config/example-config';
import type { ExampleStore } from '../../apps/example/src/store/example-store';
import { EXAMPLE_STORE } from '../../apps/example/src/store/example-store.module';
import { exampleConfigService } from './example-app';
import { HTTP_PLATFORM } from './http-platform';
import { TEST_SECRET } from './test-stores';

/**
 * Boots the real example app (its modules, routes, login, body parsers) listening on a loopback
 * port, on a store the test opened (in place of the one its configuration would open): for fault
 * tests whose store client goes through a TcpProxy, with an operation timeout the example's
 * configuration does not expose. `mode` is `SESSION_STORE`; with `cookie`, `opened` is the
 * revocation list. The app's shutdown calls `opened.close()`.
 */
export async function startExampleOn(mode: ExampleSessionMode, opened: ExampleStore): Promise<{ app: INestApplication; base: string }> {
  const config = loadExampleConfig({
    HTTP_PLATFORM,
    SESSION_SECRET: TEST_SECRET,
    SESSION_STORE: mode,
    // Only read in cookie mode; which store it is makes no difference, `opened` replaces it.
    REVOCATION_STORE: 'redis',
    // Fault suites sign many clients in from one address.
    LOGIN_ATTEMPTS_PER_ACCOUNT: '1000000',
    LOGIN_ATTEMPTS_PER_CLIENT: '1000000',
  });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forPlatform(config.http.platform)] })
    .overrideProvider(ConfigService)
    .useValue(exampleConfigService(config))
    .overrideProvider(EXAMPLE_STORE)
    .useValue(opened)
    .compile();
  const app = moduleRef.createNestApplication(createExampleHttpAdapter(config.http), { bodyParser: false, logger: false });
  configureExampleApp(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}` };
}

/** What one HTTP request got: its status (or 'no answer'), JSON body (or text) and cookies. */
export interface Answer {
  readonly status: number | 'no answer';
  readonly body: unknown;
  readonly setCookie: readonly string[];
  readonly error?: string;
}

/**
 * One request to a listening app, as a non-browser client (no Origin: the example's cross-site
 * check lets it through). Never throws: a request that got no answer within `deadlineMs` (a hang,
 * not an answer) or failed on the way is `'no answer'`.
 */
export async function send(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  { cookie, json, deadlineMs = 5_000 }: { cookie?: string; json?: unknown; deadlineMs?: number } = {},
): Promise<Answer> {
  try {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (cookie) headers.cookie = cookie;
    if (json !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
      signal: AbortSignal.timeout(deadlineMs),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text for the assertion message
    }
    return { status: response.status, body, setCookie: response.headers.getSetCookie() };
  } catch (error) {
    return { status: 'no answer', body: undefined, setCookie: [], error: String(error) };
  }
}

/** The `sid=...` pair a response set, '' when it expired the cookie, undefined when it set none. */
export function sessionCookieIn(setCookie: readonly string[]): string | undefined {
  const header = setCookie.find((value) => value.startsWith('sid='));
  if (header === undefined) return undefined;
  return /;\s*Max-Age=0/i.test(header) ? '' : header.split(';')[0];
}

/** True for the library's answer to a store outage: 503 with its JSON message. */
export function isStoreUnavailable(answer: Answer): boolean {
  return (
    answer.status === 503 &&
    typeof answer.body === 'object' &&
    answer.body !== null &&
    /^Session store unavailable/.test(String((answer.body as { message?: unknown }).message))
  );
}

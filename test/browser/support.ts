import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { HTTP_PLATFORM } from '../support/http-platform';

/** Debian's Chromium (apt-get install chromium); no tool ever downloads a browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Every wait in the browser suites is bounded by this (ms). */
export const STEP_TIMEOUT = 10_000;

/**
 * Where the screenshots go: artifacts/screenshots/<mode>/<nn>-<step>.png (git-ignored), under
 * artifacts/screenshots/fastify/ for a run on Fastify (HTTP_PLATFORM=fastify).
 */
export const SCREENSHOT_ROOT = resolve(__dirname, '../../artifacts/screenshots', HTTP_PLATFORM === 'fastify' ? 'fastify' : '.');

/** Starts headless Chromium; fails fast, with the path in the message, when it is missing. */
export async function launchChromium(): Promise<Browser> {
  try {
    return await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: 20_000,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Could not start Chromium at ${CHROMIUM_PATH} (install it with: apt-get install chromium): ${reason}`, { cause: error });
  }
}

/** Numbered full-page screenshots of one flow, in a folder emptied when the suite starts. */
export class Screenshots {
  private count = 0;
  private readonly folder: string;

  constructor(name: string) {
    this.folder = join(SCREENSHOT_ROOT, name);
    rmSync(this.folder, { recursive: true, force: true });
    mkdirSync(this.folder, { recursive: true });
  }

  async take(page: Page, step: string): Promise<void> {
    this.count += 1;
    const file = `${String(this.count).padStart(2, '0')}-${step}.png`;
    await page.screenshot({ path: join(this.folder, file), fullPage: true, timeout: STEP_TIMEOUT });
  }
}

/** The forged forms the attacker's page can hold, by path. */
const ATTACKS: Readonly<Record<string, string>> = {
  '/revoke-others': '/account/sessions/revoke-others',
  '/logout': '/logout',
};

/** A running HTTP server and its base url. */
export interface RunningServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * "Another site": a plain HTTP server on 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux).
 * Browsers treat another IP host as another site, whereas another port of the same host is the
 * same site. `GET /revoke-others?port=N` and `GET /logout?port=N` serve a page whose form posts,
 * as soon as it loads, to that path of the app on http://127.0.0.1:N; `GET /socket?port=N` one
 * that opens a socket.io connection to the app and shows how it went in `#result`.
 */
export async function startAttackerSite(): Promise<RunningServer> {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.2');
    const target = ATTACKS[url.pathname];
    const port = url.searchParams.get('port') ?? '';
    if (request.method === 'GET' && url.pathname === '/socket' && /^\d{1,5}$/.test(port)) {
      // Cross-site WebSocket hijacking: open a socket to the app with the visitor's cookies.
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      response.end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chat with us</title></head>
<body>
  <p id="result">connecting</p>
  <script src="http://127.0.0.1:${port}/socket.io/socket.io.js"></script>
  <script>
    const socket = io('http://127.0.0.1:${port}', { transports: ['websocket'], reconnection: false, withCredentials: true });
    socket.on('connect', () => { document.getElementById('result').textContent = 'connected'; });
    socket.on('connect_error', (error) => { document.getElementById('result').textContent = 'refused: ' + error.message; });
  </script>
</body></html>`);
      return;
    }
    if (request.method !== 'GET' || target === undefined || !/^\d{1,5}$/.test(port)) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    response.end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Win a prize</title></head>
<body>
  <h1>Totally harmless page</h1>
  <form method="post" action="http://127.0.0.1:${port}${target}">
    <input type="hidden" name="prize" value="1">
    <button type="submit">Claim</button>
  </form>
  <script>document.forms[0].submit();</script>
</body></html>`);
  });
  return listen(server, '127.0.0.2');
}

/** Listens on an ephemeral port of `host`; `close()` also drops kept-alive connections. */
export async function listen(server: Server, host: string): Promise<RunningServer> {
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}

/** Resolves with `promise`, or rejects after `ms` saying what it was waiting for. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import type WebSocket from 'ws';
import { MemoryStore, type SessionOptions } from '@app/session';
import { sessionCookieOf } from '../support/cookies';
import { HTTP_PLATFORM } from '../support/http-platform';
import { ask, bootSocketApp, connected, ioClient, wsClient } from '../support/socket-app';
import { FailingStore, sleep, TEST_SECRET } from '../support/test-stores';
import { io, Manager, type Socket as ClientSocket } from 'socket.io-client';

/*
 * Sessions on WebSocket gateways, on this run's HTTP platform and in both modes: the handshake's
 * cookie is the session, a cross-site page and an anonymous socket on a guarded gateway are
 * refused at connection, the guard and @Session() work in handlers, and a session that ends
 * (logout, regenerate, sign out everywhere, expiry) ends its sockets within a second.
 */

const MODES: ReadonlyArray<[string, Partial<SessionOptions>]> = [
  ['server-side', {}],
  ['client-side', { mode: 'cookie' }],
];

const ENDED_WITHIN_MS = 1000;

function options(extra: Partial<SessionOptions> = {}): SessionOptions {
  return { secret: TEST_SECRET, name: 'sid', ...extra };
}

async function signIn(app: INestApplication): Promise<string> {
  return sessionCookieOf(await request(app.getHttpServer() as App).post('/login').expect(204));
}

/** Waits for `session-ended` then the disconnect; resolves with the reason and how long it took after `since`. */
function sessionEnded(socket: ClientSocket, since: () => number): Promise<{ reason: string; disconnectedAfterMs: number; disconnectReason: string }> {
  return new Promise((resolve, reject) => {
    let reason: string | undefined;
    const timer = setTimeout(() => reject(new Error('the socket was not ended within 3 s')), 3000);
    socket.once('session-ended', (payload: { reason: string }) => (reason = payload.reason));
    socket.once('disconnect', (disconnectReason) => {
      clearTimeout(timer);
      if (reason === undefined) reject(new Error(`disconnected (${disconnectReason}) without session-ended`));
      else resolve({ reason, disconnectedAfterMs: Date.now() - since(), disconnectReason });
    });
  });
}

describe.each(MODES)(`socket.io gateways on ${HTTP_PLATFORM} (%s)`, (_mode, modeOptions) => {
  let app: INestApplication;
  let url: string;
  const sockets: ClientSocket[] = [];

  function client(headers: Record<string, string> = {}, namespace = '/'): ClientSocket {
    const socket = ioClient(url, headers, namespace);
    sockets.push(socket);
    return socket;
  }

  beforeAll(async () => {
    ({ app, url } = await bootSocketApp('socket.io', options({ ...modeOptions, idleTimeout: 60_000 })));
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.disconnect();
  });

  afterAll(async () => {
    await app.close();
  });

  it('refuses an anonymous socket on a guarded gateway at connection: Authentication required', async () => {
    const error = await connected(client()).then(
      () => undefined,
      (refused: Error & { data?: { code?: string } }) => refused,
    );
    expect(error?.message).toBe('Authentication required');
    expect(error?.data).toEqual({ code: 'UNAUTHENTICATED' });
  });

  it('refuses a handshake from another site, even with a valid cookie: Cross-site connection refused', async () => {
    const cookie = await signIn(app);
    for (const origin of ['https://evil.example', 'null', `${url.replace('127.0.0.1', 'localhost')}`]) {
      const error = await connected(client({ Cookie: cookie, Origin: origin })).then(
        () => undefined,
        (refused: Error) => refused,
      );
      expect(error?.message).toBe('Cross-site connection refused');
    }
  });

  it("refuses a cross-site handshake over HTTP long-polling too (socket.io's first transport)", async () => {
    const cookie = await signIn(app);
    const socket = io(url, { transports: ['polling'], reconnection: false, forceNew: true, extraHeaders: { Cookie: cookie, Origin: 'https://evil.example' } });
    sockets.push(socket);
    await expect(connected(socket)).rejects.toThrow('Cross-site connection refused');
    const same = io(url, { transports: ['polling'], reconnection: false, forceNew: true, extraHeaders: { Cookie: cookie, Origin: url } });
    sockets.push(same);
    await connected(same);
    await expect(ask(same, 'whoami')).resolves.toEqual({ id: 'alice', roles: ['user'] });
  });

  it('tells every namespace socket of one connection (a browser shares one) that the session ended', async () => {
    const cookie = await signIn(app);
    const manager = new Manager(url, { transports: ['websocket'], reconnection: false, extraHeaders: { Cookie: cookie } });
    const guarded = manager.socket('/');
    const open = manager.socket('/open');
    sockets.push(guarded, open);
    await Promise.all([connected(guarded), connected(open)]);
    let endedAt = 0;
    const ends = [sessionEnded(guarded, () => endedAt), sessionEnded(open, () => endedAt)];
    endedAt = Date.now();
    await request(app.getHttpServer() as App).post('/logout').set('Cookie', cookie).expect(204);
    for (const ended of await Promise.all(ends)) {
      expect(ended.reason).toBe('logout');
      expect(ended.disconnectedAfterMs).toBeLessThan(ENDED_WITHIN_MS);
    }
  });

  it('reads the signed-in session from the handshake cookie (same-origin page or no Origin at all)', async () => {
    const cookie = await signIn(app);
    const handshakes: Array<Record<string, string>> = [{ Cookie: cookie, Origin: url }, { Cookie: cookie }];
    for (const headers of handshakes) {
      const socket = client(headers);
      await connected(socket);
      await expect(ask(socket, 'whoami')).resolves.toEqual({ id: 'alice', roles: ['user'] });
    }
  });

  it('checks @Roles() on a handler: an exception event with FORBIDDEN', async () => {
    const socket = client({ Cookie: await signIn(app) });
    await connected(socket);
    const exception = new Promise((resolve) => socket.once('exception', resolve));
    socket.emit('admin', {});
    await expect(exception).resolves.toEqual({ status: 'error', message: 'Requires one of the roles: admin', code: 'FORBIDDEN' });
  });

  it('lets anonymous sockets into an unguarded gateway, and refuses its guarded handler with UNAUTHENTICATED', async () => {
    const socket = client({}, '/open');
    await connected(socket);
    await expect(ask(socket, 'hello')).resolves.toBe('hello stranger');
    const exception = new Promise((resolve) => socket.once('exception', resolve));
    socket.emit('private', {});
    await expect(exception).resolves.toEqual({ status: 'error', message: 'Authentication required', code: 'UNAUTHENTICATED' });
  });

  it.each([
    ['POST /logout', '/logout', 'logout'],
    ['regenerate()', '/regenerate', 'regenerate'],
    ['sign out everywhere', '/sign-out-everywhere', 'revoke-all'],
  ])('ends the sockets of a session ended by %s within 1 s, on every namespace', async (_name, path, reason) => {
    const cookie = await signIn(app);
    const guarded = client({ Cookie: cookie });
    const open = client({ Cookie: cookie }, '/open');
    await Promise.all([connected(guarded), connected(open)]);
    await expect(ask(open, 'hello')).resolves.toBe('hello alice');
    let endedAt = 0;
    const ends = [sessionEnded(guarded, () => endedAt), sessionEnded(open, () => endedAt)];
    endedAt = Date.now();
    await request(app.getHttpServer() as App).post(path).set('Cookie', cookie).expect(204);
    for (const ended of await Promise.all(ends)) {
      expect(ended.reason).toBe(reason);
      expect(ended.disconnectReason).toBe('io server disconnect');
      expect(ended.disconnectedAfterMs).toBeLessThan(ENDED_WITHIN_MS);
    }
    // The old cookie opens nothing any more.
    await expect(connected(client({ Cookie: cookie }))).rejects.toThrow('Authentication required');
  });

  it('leaves the sockets of other sessions open', async () => {
    const mine = await signIn(app);
    const other = await signIn(app);
    const socket = client({ Cookie: other });
    await connected(socket);
    await request(app.getHttpServer() as App).post('/logout').set('Cookie', mine).expect(204);
    await sleep(100);
    await expect(ask(socket, 'whoami')).resolves.toEqual({ id: 'alice', roles: ['user'] });
  });
});

describe(`socket.io gateways on ${HTTP_PLATFORM}: expiry and outages`, () => {
  it.each(MODES)('ends a socket within 1 s of its session idle deadline (%s), with no request to notice it', async (_mode, modeOptions) => {
    const { app, url } = await bootSocketApp('socket.io', options({ ...modeOptions, idleTimeout: 1500, absoluteTimeout: 60_000 }));
    try {
      const cookie = await signIn(app);
      const signedInAt = Date.now();
      const socket = ioClient(url, { Cookie: cookie });
      await connected(socket);
      const ended = await sessionEnded(socket, () => signedInAt + 1500);
      expect(ended.reason).toBe('idle-timeout');
      expect(ended.disconnectedAfterMs).toBeLessThan(ENDED_WITHIN_MS);
    } finally {
      await app.close();
    }
  });

  it('refuses a handshake while the store is down (never an anonymous socket), and keeps open sockets through a blip', async () => {
    const store = new FailingStore(new MemoryStore());
    const { app, url } = await bootSocketApp('socket.io', options({ store, idleTimeout: 60_000, sockets: { recheckInterval: 1000 } }));
    try {
      const cookie = await signIn(app);
      const open = ioClient(url, { Cookie: cookie });
      await connected(open);
      store.goDown(['get']);
      const refused = await connected(ioClient(url, { Cookie: cookie })).then(
        () => undefined,
        (error: Error & { data?: { code?: string } }) => error,
      );
      expect(refused?.message).toBe('Session store unavailable, please retry shortly');
      expect(refused?.data).toEqual({ code: 'SESSION_STORE_UNAVAILABLE' });
      // A recheck during the outage keeps the socket: the store cannot say the session ended.
      await sleep(1500);
      expect(open.connected).toBe(true);
      store.recover();
      await expect(ask(open, 'whoami')).resolves.toEqual({ id: 'alice', roles: ['user'] });
      open.disconnect();
    } finally {
      await app.close();
    }
  });

  it('ends the socket of the session maxSessionsPerUser evicts when the user signs in once more', async () => {
    const { app, url } = await bootSocketApp('socket.io', options({ maxSessionsPerUser: 1 }));
    try {
      const first = await signIn(app);
      const socket = ioClient(url, { Cookie: first });
      await connected(socket);
      let signedInAt = 0;
      const ended = sessionEnded(socket, () => signedInAt);
      signedInAt = Date.now();
      await signIn(app);
      const result = await ended;
      expect(result.reason).toBe('max-sessions');
      expect(result.disconnectedAfterMs).toBeLessThan(ENDED_WITHIN_MS);
    } finally {
      await app.close();
    }
  });

  it('refuses a handshake whose session was ended (elsewhere) while the handshake was reading it', async () => {
    // The next store read waits at a gate: the handshake's load reads the live session, then a
    // logout completes, then the handshake goes on with what it read.
    let gate: Promise<void> | undefined;
    let reached: () => void = () => undefined;
    const reachedGate = new Promise<void>((resolve) => (reached = resolve));
    class GatedStore extends MemoryStore {
      override async get(key: string) {
        const record = await super.get(key);
        const waiting = gate;
        gate = undefined;
        if (waiting) {
          reached();
          await waiting;
        }
        return record;
      }
    }
    const { app, url } = await bootSocketApp('socket.io', options({ store: new GatedStore() }));
    try {
      const cookie = await signIn(app);
      let open: () => void = () => undefined;
      gate = new Promise<void>((resolve) => (open = resolve));
      const handshake = connected(ioClient(url, { Cookie: cookie }, '/open')).then(
        () => undefined,
        (error: Error & { data?: { code?: string } }) => error,
      );
      await reachedGate;
      await request(app.getHttpServer() as App).post('/logout').set('Cookie', cookie).expect(204);
      open();
      const refused = await handshake;
      expect(refused?.message).toBe('Session ended, please reconnect');
      expect(refused?.data).toEqual({ code: 'SESSION_ENDED' });
    } finally {
      await app.close();
    }
  });

  it('notices, at the recheck, a session removed behind its back (no event reached this instance)', async () => {
    const store = new MemoryStore();
    const { app, url } = await bootSocketApp('socket.io', options({ store, idleTimeout: 60_000, sockets: { recheckInterval: 1000 } }));
    try {
      const cookie = await signIn(app);
      const socket = ioClient(url, { Cookie: cookie });
      await connected(socket);
      const removedAt = Date.now();
      const ended = sessionEnded(socket, () => removedAt);
      await store.clear();
      const result = await ended;
      expect(result.reason).toBe('ended');
      expect(result.disconnectedAfterMs).toBeLessThan(1000 + ENDED_WITHIN_MS);
    } finally {
      await app.close();
    }
  });
});

describe.each(MODES)(`ws gateways on ${HTTP_PLATFORM} (%s)`, (_mode, modeOptions) => {
  let app: INestApplication;
  let url: string;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    ({ app, url } = await bootSocketApp('ws', options(modeOptions)));
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.terminate();
  });

  afterAll(async () => {
    await app.close();
  });

  async function open(headers: Record<string, string>): Promise<WebSocket> {
    const socket = await wsClient(url, headers);
    sockets.push(socket);
    return socket;
  }

  function nextMessage(socket: WebSocket): Promise<unknown> {
    return new Promise((resolve) => socket.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()))));
  }

  it('refuses anonymous (401) and cross-site (403) handshakes', async () => {
    await expect(wsClient(url)).rejects.toMatchObject({ status: 401 });
    const cookie = await signIn(app);
    await expect(wsClient(url, { Cookie: cookie, Origin: 'https://evil.example' })).rejects.toMatchObject({ status: 403 });
  });

  it('answers whoami from the handshake session, and closes the socket (4001) after session-ended on logout', async () => {
    const cookie = await signIn(app);
    const socket = await open({ Cookie: cookie, Origin: url });
    const reply = nextMessage(socket);
    socket.send(JSON.stringify({ event: 'whoami', data: {} }));
    // Nest's ws adapter sends a handler's plain return value as the message.
    await expect(reply).resolves.toEqual({ id: 'alice', roles: ['user'] });

    const ended = nextMessage(socket);
    const closed = new Promise<number>((resolve) => socket.once('close', (code: number) => resolve(code)));
    const startedAt = Date.now();
    await request(app.getHttpServer() as App).post('/logout').set('Cookie', cookie).expect(204);
    await expect(ended).resolves.toEqual({ event: 'session-ended', data: { reason: 'logout' } });
    await expect(closed).resolves.toBe(4001);
    expect(Date.now() - startedAt).toBeLessThan(ENDED_WITHIN_MS);
  });
});

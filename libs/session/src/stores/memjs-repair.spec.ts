import { once } from 'node:events';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
// eslint-disable-next-line @typescript-eslint/no-restricted-imports -- the test drives memjs's real Server (a dev dependency); the library itself imports only its types.
import { Server, Utils } from 'memjs';
import { dropStalledConnection, isMemjsServerState, memjsTimestamp, mendMemjsServer, type MemjsServerState } from './memjs-repair';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A memcached that accepts connections and reads requests but never answers them: a partition
 * as memjs sees it. Its side of a connection stays open until the test ends it, even after
 * memjs's side closed (half-open), so the test decides when memjs sees that connection close.
 */
class SilentServer {
  readonly connections: Socket[] = [];
  readonly #requests = new Map<Socket, number>();
  readonly #server: NetServer = createServer({ allowHalfOpen: true }, (socket) => {
    this.connections.push(socket);
    socket.on('data', (chunk: Buffer) => this.#requests.set(socket, (this.#requests.get(socket) ?? 0) + chunk.length / 24));
    socket.on('error', () => undefined);
  });

  async start(): Promise<number> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    const address = this.#server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Requests received on the connection (each a bare 24-byte header). */
  requestsOn(connection: Socket): number {
    return this.#requests.get(connection) ?? 0;
  }

  async stop(): Promise<void> {
    for (const connection of this.connections) connection.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A bare memcached request (a NOOP) with the opaque memjs matches its answer by. */
const request = (seq: number): Buffer => Utils.makeRequestBuffer(0x0a, '', '', '', seq);

/** Registers a request on the server as memjs's `perform` does (one attempt), and writes it. */
function send(server: Server, seq: number): Promise<Error> {
  return new Promise((resolve, reject) => {
    server.onResponse(seq, () => reject(new Error(`request ${seq} was answered`)));
    server.onError(seq, resolve);
    server.write(request(seq));
  });
}

/** The fields memjs 1.3.2 keeps on a Server, which its typings show read-only or not at all. */
const stateOf = (server: Server): MemjsServerState => {
  if (!isMemjsServerState(server)) throw new Error('not a memjs 1.3.2 Server');
  return server;
};

/** `promise`, or a rejection once `ms` passed without it settling. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, sleep(ms).then(() => Promise.reject(new Error(`not settled within ${ms} ms`)))]);
}

async function until(condition: () => boolean, what: string, ms = 2_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('memjs repair', () => {
  let silent: SilentServer;
  let port: number;
  const servers: Server[] = [];

  /** A memjs server for the silent memcached, mended as MemcachedStore mends its client's. */
  const memjsServer = (timeoutSeconds: number): Server => {
    const server = new Server('127.0.0.1', port, undefined, undefined, { timeout: timeoutSeconds });
    mendMemjsServer(stateOf(server));
    servers.push(server);
    return server;
  };

  beforeEach(async () => {
    silent = new SilentServer();
    port = await silent.start();
  });

  afterEach(async () => {
    for (const server of servers.splice(0)) server.error(new Error('test over'));
    await silent.stop();
  });

  it("reads memjs's own clock, the one its request deadlines are written on", () => {
    expect(Math.abs(memjsTimestamp() - Utils.timestamp())).toBeLessThanOrEqual(1);
  });

  it('recognises the state of a memjs 1.3.2 Server', () => {
    expect(isMemjsServerState(new Server('127.0.0.1', 11211))).toBe(true);
    expect(isMemjsServerState({ connected: true })).toBe(false);
  });

  describe('dropStalledConnection', () => {
    it('leaves a connection alone while no request on it is past its deadline', async () => {
      const server = memjsServer(0.5);
      const state = stateOf(server);
      expect(dropStalledConnection(state)).toBe(false); // no connection at all
      const pending = send(server, 1);
      await until(() => state.connected && state.requestTimeouts.length === 1, 'the request to be written');
      const socket = state._socket;
      expect(dropStalledConnection(state, state.requestTimeouts[0] - 1)).toBe(false);
      expect(state._socket).toBe(socket);
      expect(state.requestTimeouts).toHaveLength(1);
      expect(dropStalledConnection(state, state.requestTimeouts[0])).toBe(true);
      await expect(pending).resolves.toThrow('socket timed out waiting on response.');
    });

    it("fails a connection memjs's idle timer keeps alive, so the next request opens a new one", async () => {
      const server = memjsServer(0.5);
      const state = stateOf(server);
      // A request every 50 ms: memjs's request timeout is the socket's idle timer, which each
      // write postpones, so memjs never gives up on this connection however late its answers are.
      const first = send(server, 1);
      const later: Promise<Error>[] = [];
      for (let seq = 2; seq <= 16; seq++) {
        await sleep(50);
        later.push(send(server, seq));
      }
      const stalled = state._socket;
      expect(silent.connections).toHaveLength(1);
      expect(state.requestTimeouts.length).toBe(16);
      expect(state.requestTimeouts[0]).toBeLessThan(memjsTimestamp()); // memjs's deadline passed...
      expect(state.connected).toBe(true); // ...and memjs still writes on the connection

      expect(dropStalledConnection(state)).toBe(true);
      // Through memjs's own error path: every request on it fails, the socket is destroyed.
      for (const failure of [first, ...later]) await expect(failure).resolves.toThrow('socket timed out waiting on response.');
      expect(stalled?.destroyed).toBe(true);
      expect(state._socket).toBeUndefined();

      const next = send(server, 17);
      await until(() => silent.connections.length === 2 && silent.requestsOn(silent.connections[1]) === 1, 'a new connection');
      expect(silent.requestsOn(silent.connections[0])).toBe(16);
      expect(dropStalledConnection(state)).toBe(false);
      server.error(new Error('test over'));
      await next;
    });
  });

  describe('mendMemjsServer', () => {
    it('keeps the request timeout of the new connection when the one memjs gave up on closes late', async () => {
      const server = memjsServer(0.25);
      const state = stateOf(server);
      // memjs times the first request out (250 ms) and ends its connection, which the silent
      // server keeps half-open: that connection has not closed yet.
      const first = send(server, 1);
      const givenUp = state._socket!;
      await expect(first).resolves.toThrow('socket timed out waiting on response.');
      expect(givenUp.closed).toBe(false);
      // A new connection, a request written on it, its timeout running.
      const second = send(server, 2);
      await until(() => silent.connections.length === 2 && silent.requestsOn(silent.connections[1]) === 1, 'the second request');
      const current = state._socket;
      expect(state.timeoutSet).toBe(true);

      // Now the old connection closes. memjs's 'close' handler clears the current socket and,
      // with timeoutSet up, cancels that socket's timer: the request on it would never time out.
      const closed = once(givenUp, 'close');
      silent.connections[0].end();
      await closed;
      expect(state._socket).toBe(current);
      expect(state.connected).toBe(true);
      expect(state.timeoutSet).toBe(true);
      await expect(within(second, 1_000)).resolves.toThrow('socket timed out waiting on response.');
    });

    it('keeps the connect timeout of a connection still opening when an older one closes', async () => {
      const server = memjsServer(0.25);
      const state = stateOf(server);
      const first = send(server, 1);
      const givenUp = state._socket!;
      await expect(first).resolves.toThrow('socket timed out waiting on response.');
      // The next connection, still opening (memjs armed its connect timeout), when the old one
      // closes. Both in the event loop's check phase: the destroyed socket's 'close' comes in the
      // close phase that follows, before the poll phase in which the new connection can open.
      const closed = once(givenUp, 'close');
      const { second, opening } = await new Promise<{ second: Promise<Error>; opening: Socket | undefined }>((resolve) =>
        setImmediate(() => {
          const started = send(server, 2);
          resolve({ second: started, opening: state._socket });
          givenUp.destroy();
        }),
      );
      expect(opening?.timeout).toBe(500); // conntimeout: twice the request timeout
      await closed;
      expect(opening?.connecting).toBe(true);
      expect(state._socket).toBe(opening);
      expect(state.connected).toBe(false);
      expect(state.timeoutSet).toBe(true);
      expect(opening?.timeout).toBe(500);
      await expect(within(second, 1_000)).resolves.toThrow('socket timed out waiting on response.');
    });
  });
});

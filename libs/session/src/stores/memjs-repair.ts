import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

// The repair MemcachedStore applies to the memjs client it is given: memjs's own connection
// handling, apart from the store's protocol work.

/**
 * The state of a memjs 1.3.2 `Server` (one per memcached address) that {@link mendMemjsServer}
 * reads and repairs. These fields are memjs's own (JavaScript properties, shown as readonly or
 * not at all by @types/memjs); memjs is pinned, and the store checks they exist before relying
 * on them.
 */
export interface MemjsServerState extends EventEmitter {
  _socket?: Socket;
  connected: boolean;
  timeoutSet: boolean;
  /**
   * The deadline of each request written on the current connection and not answered yet, oldest
   * first, on memjs's clock ({@link memjsTimestamp}): written at `timestamp() + timeout`, the
   * first one removed by each answer (memcached answers in order), all cleared by `error()`.
   */
  requestTimeouts: number[];
  errorCallbacks: Record<number, unknown>;
  connectCallbacks: unknown[];
  error(error: Error): void;
}

/** Servers already mended (several stores may share one client). */
const MENDED_SERVERS = new WeakSet<object>();

/** Whether `server` has the memjs 1.3.2 fields the repair and the store rely on. */
export function isMemjsServerState(server: unknown): server is MemjsServerState {
  const candidate = server as Partial<MemjsServerState> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.error === 'function' &&
    typeof candidate.on === 'function' &&
    typeof candidate.connected === 'boolean' &&
    typeof candidate.errorCallbacks === 'object' &&
    Array.isArray(candidate.connectCallbacks) &&
    Array.isArray(candidate.requestTimeouts)
  );
}

/**
 * Repairs two defects of memjs 1.3.2's connection handling (lib/memjs/server.js), which made a
 * store wait for its whole operation timeout after an outage instead of reconnecting at once:
 *
 * 1. A connection the server (or a proxy, a load balancer) closes cleanly, without a socket
 *    error, is forgotten by memjs's 'close' handler, but the requests written on it stay
 *    registered: no answer and no error ever comes, and only the caller's own timeout ends them.
 *    Fix: when the current connection closes with requests pending, fail them through memjs's
 *    own `error()` (what memjs does on a socket error: its retries apply, the next request
 *    connects anew).
 * 2. The 'close' handler clears the server's current socket (`_socket`, `connected`) even when
 *    the socket closing is an older one memjs had already given up on (its request timed out,
 *    or `error()` destroyed it and a request opened a new connection before its 'close' came).
 *    Requests then queued on the newer connection while it was still connecting are never
 *    written. And when `timeoutSet` is up, the handler cancels the newer socket's timer with it
 *    (`setTimeout(0)` on whatever socket is current): its connect timeout, or the timeout of the
 *    requests already written on it. Fix: hide `timeoutSet` from the handler, so it leaves the
 *    newer socket's timer alone, then put the newer connection back as the handler found it.
 *
 * Mending (listeners on memjs's own objects) rather than replacing the client: the client is the
 * application's (it created it, with its options and servers, and closes it), and these two
 * listeners restore exactly the state memjs's own error path produces. Mended once per server.
 * {@link dropStalledConnection} is the third repair, which the store applies before each request.
 */
export function mendMemjsServer(server: MemjsServerState): void {
  if (MENDED_SERVERS.has(server)) return;
  MENDED_SERVERS.add(server);
  const watched = new WeakSet<Socket>();
  const watch = (): void => {
    const socket = server._socket;
    if (socket === undefined || watched.has(socket)) return;
    watched.add(socket);
    let current: { socket: Socket | undefined; connected: boolean; timeoutSet: boolean } | undefined;
    // Runs before memjs's own 'close' handler, to see what that handler is about to clear.
    socket.prependListener('close', () => {
      current = { socket: server._socket, connected: server.connected, timeoutSet: server.timeoutSet };
      // An older connection closing: memjs's handler would cancel the current socket's timer.
      if (current.socket !== socket) server.timeoutSet = false;
    });
    socket.on('close', () => {
      if (current === undefined) return;
      if (current.socket !== socket) {
        // An older connection closed: memjs cleared the newer one by mistake (defect 2). Its
        // timer was left running (see above), so timeoutSet goes back to what it was too.
        if (server._socket === undefined && current.socket !== undefined && !current.socket.destroyed) {
          server._socket = current.socket;
          server.connected = current.connected;
        }
        server.timeoutSet = current.timeoutSet && server._socket !== undefined && server._socket === current.socket;
        return;
      }
      // The current connection closed without an error (defect 1): what was written on it will
      // never be answered.
      if (Object.keys(server.errorCallbacks).length > 0 || server.connectCallbacks.length > 0) {
        server.error(new Error('memcached closed the connection with requests unanswered'));
      }
    });
  };
  // memjs emits 'authenticated' on the server once each new connection is ready (after SASL when
  // configured): the moment to watch it. This listener runs before memjs's per-connection one.
  server.on('authenticated', watch);
  watch();
}

/**
 * memjs's clock (lib/memjs/utils.js `timestamp()`): monotonic milliseconds, which the deadlines
 * in `requestTimeouts` are written on.
 */
export function memjsTimestamp(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1000 + Math.round(nanoseconds / 1_000_000);
}

/**
 * Fails the server's current connection through memjs's own `error()`, as memjs's request
 * timeout would, when the oldest request written on it is unanswered past its deadline (memjs's
 * `timeout` option). Returns whether it did; the next request then opens a new connection.
 *
 * memjs 1.3.2 enforces those deadlines with the socket's idle timer (`timeoutHandler`), which
 * every request written on the connection postpones by a whole `timeout`. So a connection that
 * stopped answering (a network partition: bytes held both ways, no error, no close) is never
 * given up on as long as requests keep coming at shorter intervals: callers out of step, each
 * asking again once its own operation timed out. memjs then keeps writing every request on it,
 * after the partition healed too, until the network delivers or drops what it held. A deadline
 * already past is the verdict memjs's timer would have given had it fired: checked before a
 * request is handed to memjs, it keeps that request off a connection memjs has given up on in
 * all but name. Nothing is sent by it; what the connection held is the network's, as when
 * memjs's own timer ends a connection.
 */
export function dropStalledConnection(server: MemjsServerState, now: number = memjsTimestamp()): boolean {
  const oldestDeadline = server.requestTimeouts[0];
  if (server._socket === undefined || oldestDeadline === undefined || oldestDeadline > now) return false;
  server.error(new Error('socket timed out waiting on response.'));
  return true;
}

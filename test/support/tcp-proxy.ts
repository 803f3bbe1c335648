import { createServer, connect, type Server, type Socket } from 'node:net';

/** How long after its held data a held close reaches the server (see `release`). */
const HELD_CLOSE_DELAY_MS = 100;

/**
 * One client connection through the proxy and its upstream twin. While `frozen`, bytes in either
 * direction are held (not dropped) and a close from either side is deferred: what a network
 * partition does to an open TCP connection, whose unacknowledged segments the kernel keeps
 * retransmitting and which reach the far side when the path heals.
 */
class ProxiedConnection {
  frozen: boolean;
  readonly #client: Socket;
  #upstream: Socket | undefined;
  readonly #toUpstream: Buffer[] = [];
  readonly #toClient: Buffer[] = [];
  #clientEnded = false;
  #upstreamEnded = false;
  #upstreamClosed = false;
  #closed = false;

  constructor(
    client: Socket,
    readonly targetPort: number,
    frozen: boolean,
    readonly onClose: (connection: ProxiedConnection) => void,
  ) {
    this.#client = client;
    this.frozen = frozen;
    client.on('data', (chunk: Buffer) => this.#fromClient(chunk));
    client.on('end', () => {
      this.#clientEnded = true;
      if (!this.frozen) this.#upstream?.end();
    });
    client.on('error', () => this.#clientGone());
    client.on('close', () => this.#clientGone());
    // A frozen connection is not even opened upstream yet: a SYN lost in the partition.
    if (!frozen) this.#connectUpstream();
  }

  /** Delivers everything held, in order, then forwards as usual. */
  release(): void {
    if (this.#closed || !this.frozen) return;
    this.frozen = false;
    if (this.#upstream === undefined) {
      // Opened during the partition: its SYN never got through. A client that gave up on it
      // (a connect timeout) aborted the handshake, so nothing it "sent" ever reaches the server;
      // delivering it now would be a write no real network could deliver.
      if (this.#clientEnded) {
        this.destroy();
        return;
      }
      this.#connectUpstream();
    }
    for (const chunk of this.#toUpstream.splice(0)) this.#upstream!.write(chunk);
    if (this.#clientEnded) {
      // The client's close (FIN) left later than its data, so it is retransmitted as a later
      // segment: the server reads the held statement before it sees the connection end. (Sent
      // together, some servers, MariaDB among them, drop a statement whose connection is gone.)
      const upstream = this.#upstream!;
      setTimeout(() => upstream.end(), HELD_CLOSE_DELAY_MS).unref();
    }
    if (!this.#client.destroyed) for (const chunk of this.#toClient.splice(0)) this.#client.write(chunk);
    if (this.#upstreamClosed) {
      // What the server sent before it closed goes out first, then the close.
      if (this.#client.destroyed) this.destroy();
      else this.#client.end(); // its 'close' then tears the pair down
    } else if (this.#upstreamEnded) this.#client.end();
  }

  /** Tears both sides down at once (a connection reset). */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
    this.#upstream?.destroy();
    this.onClose(this);
  }

  #connectUpstream(): void {
    const upstream = connect(this.targetPort, '127.0.0.1');
    this.#upstream = upstream;
    upstream.on('data', (chunk: Buffer) => {
      if (this.frozen) this.#toClient.push(chunk);
      else if (!this.#client.destroyed) this.#client.write(chunk);
    });
    upstream.on('end', () => {
      this.#upstreamEnded = true;
      if (!this.frozen) this.#client.end();
    });
    // A reset or close from the server does not cross a partition either: deferred to release().
    upstream.on('error', () => this.#upstreamGone());
    upstream.on('close', () => this.#upstreamGone());
  }

  #upstreamGone(): void {
    this.#upstreamEnded = true;
    this.#upstreamClosed = true;
    if (!this.frozen) this.destroy();
  }

  #fromClient(chunk: Buffer): void {
    if (this.frozen || this.#upstream === undefined) this.#toUpstream.push(chunk);
    else this.#upstream.write(chunk);
  }

  /**
   * The application closed its end. A frozen connection keeps what it holds for `release()`: the
   * statement the application gave up on still reaches the server late. Otherwise the upstream
   * side is ended once what was written has gone out.
   */
  #clientGone(): void {
    this.#clientEnded = true;
    if (this.frozen) return;
    if (this.#upstream && !this.#upstream.destroyed) this.#upstream.end();
    else this.destroy();
  }
}

/**
 * A loopback TCP proxy in front of a real server (Redis, PostgreSQL, ...), for fault tests: point
 * the store's client at the proxy, then
 * - `cut()` to drop every connection and refuse new ones (the server "goes away", connection
 *   refused), and `restore()` to let connections through again;
 * - `freeze()` for a blackhole that holds rather than drops (a partition: open connections stop
 *   moving, new ones hang), and `heal({ heldConnectionsAfterMs })` to let new connections through
 *   at once while the connections open during the partition deliver their held bytes only later,
 *   as TCP retransmission does when a path heals: a statement the application already gave up
 *   on then reaches the server after newer ones.
 * Only ever listens on and connects to 127.0.0.1.
 */
export class TcpProxy {
  readonly #targetPort: number;
  readonly #connections = new Set<ProxiedConnection>();
  readonly #releaseTimers = new Set<NodeJS.Timeout>();
  #server: Server | undefined;
  #cut = false;
  #frozen = false;
  #port = 0;

  constructor(targetPort: number) {
    this.#targetPort = targetPort;
  }

  /** The port the proxy listens on (127.0.0.1). */
  get port(): number {
    return this.#port;
  }

  /** Open client connections (frozen ones included). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Starts listening on an ephemeral loopback port. */
  async start(): Promise<this> {
    this.#server = createServer((client) => this.#accept(client));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    this.#port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  /** Drops every open connection and refuses (resets) new ones until {@link restore}. */
  cut(): void {
    this.#cut = true;
    for (const connection of [...this.#connections]) connection.destroy();
    this.#connections.clear();
  }

  /** Lets connections through again. */
  restore(): void {
    this.#cut = false;
  }

  /**
   * A partition: every open connection stops moving (bytes held both ways, nothing dropped, no
   * close delivered) and new connections are accepted but go nowhere, until {@link heal}.
   */
  freeze(): void {
    this.#frozen = true;
    for (const connection of this.#connections) connection.frozen = true;
  }

  /**
   * Ends the partition: new connections work at once; the connections frozen during it stay
   * frozen for `heldConnectionsAfterMs` more, then deliver what they held (in order, both ways)
   * and close if either side closed meanwhile. 0 releases them at once.
   */
  heal({ heldConnectionsAfterMs = 0 }: { heldConnectionsAfterMs?: number } = {}): void {
    this.#frozen = false;
    const held = [...this.#connections].filter((connection) => connection.frozen);
    if (heldConnectionsAfterMs <= 0) {
      for (const connection of held) connection.release();
      return;
    }
    const timer = setTimeout(() => {
      this.#releaseTimers.delete(timer);
      // Partitioned again meanwhile: they stay held, and the next heal releases them.
      if (this.#frozen) return;
      for (const connection of held) connection.release();
    }, heldConnectionsAfterMs);
    this.#releaseTimers.add(timer);
  }

  /** Resolves once every held connection has been released (see {@link heal}). */
  async released(): Promise<void> {
    while (this.#releaseTimers.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  /** Closes the proxy and every connection through it. */
  async stop(): Promise<void> {
    for (const timer of this.#releaseTimers) clearTimeout(timer);
    this.#releaseTimers.clear();
    this.cut();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  #accept(client: Socket): void {
    if (this.#cut) {
      client.resetAndDestroy();
      return;
    }
    this.#connections.add(
      new ProxiedConnection(client, this.#targetPort, this.#frozen, (connection) => this.#connections.delete(connection)),
    );
  }
}

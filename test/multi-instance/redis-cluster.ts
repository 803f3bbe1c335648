import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway Redis Cluster for the tests: three `redis-server` processes in cluster mode on free
 * loopback ports (no replicas, no persistence), joined with `redis-cli --cluster create`. Every
 * step is bounded; whatever was started is stopped again if a later step fails.
 */
export interface RedisCluster {
  /** The nodes' ports (masters, one third of the slots each). */
  readonly ports: readonly number[];
  /** `host:port` of each node, as REDIS_CLUSTER_NODES takes them. */
  readonly nodes: readonly string[];
  /** `redis://host:port` of each node, as `createCluster({ rootNodes })` takes them. */
  readonly urls: readonly string[];
  /** Freezes one node (SIGSTOP): it keeps its connections but answers nothing until resumed. */
  pause(port: number): void;
  /** Lets a paused node run again (SIGCONT). */
  resume(port: number): void;
  /** Stops the processes (SIGTERM, then SIGKILL) and removes the working directory. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
/** Node ports are picked here; each node's cluster bus listens on port + 10000. */
const PORT_RANGE = { first: 7100, last: 7999 } as const;
const BUS_OFFSET = 10_000;
const NODE_COUNT = 3;
/** Whole start-up (ports, processes, cluster create, cluster_state:ok) within this. */
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails with a clear message when redis-server or redis-cli cannot be run. */
function requireBinaries(): void {
  for (const binary of ['redis-server', 'redis-cli']) {
    const probe = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 5_000 });
    if (probe.error || probe.status !== 0) {
      throw new Error(
        `The Redis Cluster tests need \`${binary}\` on the PATH (Debian/Ubuntu: apt-get install redis-server; ` +
          `CI has it): ${probe.error?.message || probe.stderr.trim() || `exit ${String(probe.status)}`}`,
      );
    }
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** `count` ports in the range whose port and bus port are both free, in a random order. */
async function freePorts(count: number, taken: ReadonlySet<number>): Promise<number[]> {
  const span = PORT_RANGE.last - PORT_RANGE.first + 1;
  const start = Math.floor(Math.random() * span);
  const found: number[] = [];
  for (let step = 0; step < span && found.length < count; step++) {
    const port = PORT_RANGE.first + ((start + step) % span);
    if (taken.has(port)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + BUS_OFFSET))) found.push(port);
  }
  if (found.length < count) throw new Error(`Redis Cluster: fewer than ${count} free ports in ${PORT_RANGE.first}-${PORT_RANGE.last}`);
  return found;
}

/** Runs redis-cli with the given arguments; resolves with its stdout, rejects on failure. */
function redisCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.join(' ')}: ${error.message}${stderr ? `\n${stderr}` : ''}${stdout ? `\n${stdout}` : ''}`));
      else resolve(stdout);
    });
  });
}

/** Waits for `check` to resolve true, polling; rejects with `what` once `deadline` passed. */
async function waitFor(what: string, deadline: number, check: () => Promise<boolean>): Promise<void> {
  let last = '';
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(100);
  }
  throw new Error(`Redis Cluster: ${what} not reached within ${START_TIMEOUT_MS / 1000} s${last ? ` (last error: ${last})` : ''}`);
}

interface NodeProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** Output of the process, for the error message when it dies early. */
  readonly output: string[];
  exited: boolean;
}

function startNode(port: number, dir: string): NodeProcess {
  const child = spawn(
    'redis-server',
    [
      '--port', String(port),
      '--bind', HOST,
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout', '5000',
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir,
      '--daemonize', 'no',
      '--protected-mode', 'no',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const node: NodeProcess = { port, child, output: [], exited: false };
  const keep = (chunk: Buffer) => {
    node.output.push(chunk.toString('utf8'));
    if (node.output.length > 50) node.output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', () => {
    node.exited = true;
  });
  child.once('error', (error) => {
    node.exited = true;
    node.output.push(String(error));
  });
  return node;
}

/** Resolves true when `promise` settles within `ms`, false otherwise; leaves no timer behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function stopNode(node: NodeProcess): Promise<void> {
  if (node.exited || node.child.exitCode !== null || node.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => node.child.once('exit', () => resolve()));
  node.child.kill('SIGCONT'); // a paused node would not act on SIGTERM
  node.child.kill('SIGTERM');
  if (!(await within(exited, STOP_TIMEOUT_MS))) {
    node.child.kill('SIGKILL');
    if (!(await within(exited, STOP_TIMEOUT_MS))) throw new Error(`Redis Cluster: node ${node.port} (pid ${node.child.pid}) did not exit`);
  }
}

/** Starts three nodes and makes them a cluster; see {@link RedisCluster}. */
export async function startRedisCluster(): Promise<RedisCluster> {
  requireBinaries();
  const deadline = Date.now() + START_TIMEOUT_MS;
  const dir = await mkdtemp(join(tmpdir(), 'redis-cluster-test-'));
  const nodes: NodeProcess[] = [];
  // Should the test process end without the afterAll (a crash, a forced exit), the nodes still go.
  const killOnExit = (): void => {
    for (const node of nodes) if (!node.exited) node.child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killOnExit);
    const results = await Promise.allSettled(nodes.map(stopNode));
    await rm(dir, { recursive: true, force: true });
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  };
  try {
    // A port found free may be taken before redis-server binds it: a node that dies at start is
    // replaced on another port, a few times.
    const tried = new Set<number>();
    for (let attempt = 0; nodes.filter((node) => !node.exited).length < NODE_COUNT; attempt++) {
      if (attempt >= 5) throw new Error('Redis Cluster: could not start the nodes (ports kept being taken)');
      const alive = nodes.filter((node) => !node.exited);
      const ports = await freePorts(NODE_COUNT - alive.length, tried);
      for (const port of ports) tried.add(port);
      const started = ports.map((port) => startNode(port, dir));
      nodes.push(...started);
      for (const node of started) {
        await waitFor(`node ${node.port} answering PING`, deadline, async () => {
          if (node.exited) return true;
          return (await redisCli(['-h', HOST, '-p', String(node.port), 'ping'], 2_000)).trim() === 'PONG';
        });
      }
    }
    const running = nodes.filter((node) => !node.exited);
    const addresses = running.map((node) => `${HOST}:${node.port}`);
    await redisCli(['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], Math.max(1_000, deadline - Date.now()));
    for (const node of running) {
      await waitFor(`cluster_state:ok on node ${node.port}`, deadline, async () => {
        if (node.exited) throw new Error(`node ${node.port} exited: ${node.output.join('').slice(-500)}`);
        return /^cluster_state:ok\s*$/m.test(await redisCli(['-h', HOST, '-p', String(node.port), 'cluster', 'info'], 2_000));
      });
    }
    // Every node must also know its peers (a node may say ok before their gossip has reached
    // it): CLUSTER SHARDS names all three nodes on each.
    for (const node of running) {
      await waitFor(`all slots known on node ${node.port}`, deadline, async () => {
        const slots = await redisCli(['-h', HOST, '-p', String(node.port), 'cluster', 'shards'], 2_000);
        return running.every((other) => slots.includes(String(other.port)));
      });
    }
    const ports = running.map((node) => node.port);
    const signal = (port: number, name: NodeJS.Signals): void => {
      const node = running.find((candidate) => candidate.port === port);
      if (!node || node.exited) throw new Error(`Redis Cluster: no running node on port ${port}`);
      node.child.kill(name);
    };
    return {
      ports,
      nodes: addresses,
      urls: addresses.map((address) => `redis://${address}`),
      pause: (port) => signal(port, 'SIGSTOP'),
      resume: (port) => signal(port, 'SIGCONT'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

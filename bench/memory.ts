import { measure, type LoadSettings } from './load';
import { signIn } from './login';
import { startServer } from './server-process';

export interface MemoryPoint {
  readonly sessions: number;
  /** Heap growth per session, from heapUsed after full GCs around the fill. */
  readonly bytesPerSession: number;
  readonly heapMiB: number;
  readonly meRequestsPerSecond: number;
  readonly meP99Ms: number;
}

export interface MemoryResult {
  readonly points: MemoryPoint[];
  /** GET /me at the largest count relative to the smallest: 1.0 means the cost stayed flat. */
  readonly flatness?: number;
}

/** Session counts to hold; BENCH_MEMORY_COUNTS=1000,100000,1000000 by default. */
export function memoryCountsFromEnv(): number[] {
  const raw = process.env.BENCH_MEMORY_COUNTS ?? '1000,100000,1000000';
  const counts = raw.split(',').map((part) => Number(part.trim()));
  if (counts.some((count) => !Number.isInteger(count) || count < 1)) {
    throw new Error(`BENCH_MEMORY_COUNTS must be a comma-separated list of positive integers (got "${raw}")`);
  }
  return counts;
}

/**
 * The memory store holding N sessions of about 200 bytes: what each costs in heap, and whether
 * GET /me slows down as the store grows (a Map lookup should not).
 */
export async function runMemoryBench(counts: readonly number[], settings: LoadSettings, log: (line: string) => void): Promise<MemoryResult> {
  const points: MemoryPoint[] = [];
  for (const count of counts) {
    const server = await startServer('ours-memory', {
      args: [`--prefill=${count}`],
      nodeOptions: ['--expose-gc', '--max-old-space-size=8192'],
    });
    try {
      if (!server.heap) throw new Error('the memory bench server did not report its heap');
      const cookie = await signIn(server.origin);
      const result = await measure({ url: `${server.origin}/me`, method: 'GET', headers: { cookie } }, settings, () => server.cpuMicros());
      if (result.failures > 0) throw new Error(`memory bench GET /me at ${count} sessions: ${result.failures} failed requests`);
      const bytesPerSession = (server.heap.after - server.heap.before) / count;
      const point: MemoryPoint = {
        sessions: count,
        bytesPerSession: Math.round(bytesPerSession),
        heapMiB: Math.round(server.heap.after / 2 ** 20),
        meRequestsPerSecond: result.requestsPerSecond,
        meP99Ms: result.p99Ms,
      };
      log(
        `  ${count.toLocaleString('en-US').padStart(9)} sessions: ${point.bytesPerSession} B/session, heap ${point.heapMiB} MiB, ` +
          `GET /me ${Math.round(point.meRequestsPerSecond)} req/s p99 ${point.meP99Ms} ms`,
      );
      points.push(point);
    } finally {
      await server.stop();
    }
  }
  const first = points[0];
  const last = points.at(-1);
  return { points, flatness: first && last && first !== last ? last.meRequestsPerSecond / first.meRequestsPerSecond : undefined };
}

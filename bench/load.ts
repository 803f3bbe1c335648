import autocannon from 'autocannon';

/** How hard and how long each cell is loaded. Environment variables make a run longer or shorter. */
export interface LoadSettings {
  /** Seconds of unmeasured load before the measured runs (JIT, caches, connection pools). */
  readonly warmupSeconds: number;
  /** Seconds per measured run. */
  readonly runSeconds: number;
  /** Measured runs per cell; the median is reported. */
  readonly runs: number;
  /** Concurrent keep-alive connections. */
  readonly connections: number;
}

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number (got "${raw}")`);
  return value;
}

export function loadSettingsFromEnv(): LoadSettings {
  return {
    warmupSeconds: positiveNumber('BENCH_WARMUP', 1),
    runSeconds: positiveNumber('BENCH_DURATION', 2),
    runs: Math.round(positiveNumber('BENCH_RUNS', 5)),
    connections: Math.round(positiveNumber('BENCH_CONNECTIONS', 16)),
  };
}

export interface LoadTarget {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Record<string, string>;
}

export interface RunResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Responses outside 2xx plus socket errors and timeouts: any makes the cell invalid. */
  readonly failures: number;
  readonly requests: number;
  /** Server CPU time (user + system) per request, in microseconds. */
  readonly cpuMicrosPerRequest?: number;
}

export interface CellMeasure {
  /** Median over the measured runs. */
  readonly requestsPerSecond: number;
  /** Median of the runs' p99 latency. */
  readonly p99Ms: number;
  readonly p50Ms: number;
  readonly failures: number;
  /** Median of the runs' server CPU time per request, in microseconds: steadier than req/s on a busy machine. */
  readonly cpuMicrosPerRequest?: number;
  readonly runs: readonly RunResult[];
}

/** Reads the server's CPU time so far, in microseconds. */
export type CpuProbe = () => Promise<number>;

async function run(target: LoadTarget, seconds: number, connections: number, cpu?: CpuProbe): Promise<RunResult> {
  const cpuBefore = cpu ? await cpu() : 0;
  const result = await autocannon({
    url: target.url,
    method: target.method,
    headers: target.headers,
    connections,
    duration: seconds,
    pipelining: 1,
  });
  const cpuMicros = cpu ? (await cpu()) - cpuBefore : undefined;
  return {
    requestsPerSecond: result.requests.total / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
    requests: result.requests.total,
    ...(cpuMicros === undefined || result.requests.total === 0 ? {} : { cpuMicrosPerRequest: cpuMicros / result.requests.total }),
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Unmeasured load: JIT, caches, connection pools. */
export async function warmUp(target: LoadTarget, settings: LoadSettings): Promise<void> {
  await run(target, settings.warmupSeconds, settings.connections);
}

/** One measured run. */
export function runOnce(target: LoadTarget, settings: LoadSettings, cpu?: CpuProbe): Promise<RunResult> {
  return run(target, settings.runSeconds, settings.connections, cpu);
}

/** The medians of measured runs. */
export function summarize(runs: readonly RunResult[]): CellMeasure {
  const cpuPerRequest = runs.flatMap((r) => (r.cpuMicrosPerRequest === undefined ? [] : [r.cpuMicrosPerRequest]));
  return {
    requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    failures: runs.reduce((sum, r) => sum + r.failures, 0),
    ...(cpuPerRequest.length > 0 ? { cpuMicrosPerRequest: median(cpuPerRequest) } : {}),
    runs,
  };
}

/** Warms up, then measures `runs` times and keeps the medians. */
export async function measure(target: LoadTarget, settings: LoadSettings, cpu?: CpuProbe): Promise<CellMeasure> {
  await warmUp(target, settings);
  const runs: RunResult[] = [];
  for (let index = 0; index < settings.runs; index++) runs.push(await runOnce(target, settings, cpu));
  return summarize(runs);
}

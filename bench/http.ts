import { runOnce, summarize, warmUp, type CellMeasure, type LoadSettings, type LoadTarget, type RunResult } from './load';
import { signIn } from './login';
import { probeServices, SERVICE_HINT } from './probe';
import { startServer, type RunningServer } from './server-process';
import { EXTRA_COMPARISONS, VARIANTS, type Variant } from './variants';

export type BenchRoute = 'GET /public' | 'GET /me' | 'POST /visits';
export const ROUTES: readonly BenchRoute[] = ['GET /public', 'GET /me', 'POST /visits'];

export interface HttpCell extends CellMeasure {
  readonly variant: string;
  readonly route: BenchRoute;
  /** Requests per second relative to the no-session app on the same route. */
  readonly vsCeiling?: number;
  /** Relative to the matching peer (see variants.ts) on the same route. */
  readonly vsPeer?: number;
  readonly peer?: string;
}

export interface HttpResult {
  readonly settings: LoadSettings;
  readonly cells: HttpCell[];
  readonly skipped: Array<{ variant: string; reason: string }>;
  readonly comparisons: Array<{ variant: string; peer: string; route: BenchRoute; ratio: number }>;
}

function target(origin: string, route: BenchRoute, cookie: string): LoadTarget {
  const [method, path] = route.split(' ') as ['GET' | 'POST', string];
  // /public is what a request that never touches the session costs: it carries no cookie.
  const headers: Record<string, string> = route === 'GET /public' || cookie === '' ? {} : { cookie };
  return { url: `${origin}${path}`, method, headers };
}

interface StartedVariant {
  readonly variant: Variant;
  readonly server: RunningServer;
  readonly cookie: string;
}

/**
 * Runs every variant (or the ones named) and computes the ratios. All apps are started first
 * (each in its own process, idle until loaded), then each route is measured round by round with
 * the variants taking turns: a slow patch of the machine then hits every variant alike instead of
 * whichever happened to run at that moment, which keeps the ratios steady.
 */
export async function runHttpBench(settings: LoadSettings, only: readonly string[] | undefined, log: (line: string) => void): Promise<HttpResult> {
  const services = await probeServices();
  const skipped: HttpResult['skipped'] = [];
  const started: StartedVariant[] = [];
  try {
    for (const variant of VARIANTS) {
      if (only && !only.includes(variant.id)) continue;
      if (variant.service && !services[variant.service]) {
        log(`  ${variant.id}: skipped, ${SERVICE_HINT[variant.service]}`);
        skipped.push({ variant: variant.id, reason: SERVICE_HINT[variant.service] });
        continue;
      }
      const server = await startServer(variant.id);
      started.push({ variant, server, cookie: await signIn(server.origin) });
    }
    const runs = new Map<string, RunResult[]>();
    for (const route of ROUTES) {
      for (const { server, cookie } of started) await warmUp(target(server.origin, route, cookie), settings);
      for (let round = 0; round < settings.runs; round++) {
        for (const { variant, server } of started) {
          // A new sign-in before each run, as a browser would hold a fresh cookie: autocannon
          // never takes up a Set-Cookie, so a cookie older than the touch interval (60 s) would
          // make every request of a run re-issue it, which no real client causes.
          const cookie = await signIn(server.origin);
          const result = await runOnce(target(server.origin, route, cookie), settings, () => server.cpuMicros());
          if (result.failures > 0) throw new Error(`${variant.id} ${route}: ${result.failures} failed requests during the load`);
          const key = `${variant.id} ${route}`;
          runs.set(key, [...(runs.get(key) ?? []), result]);
        }
      }
      for (const { variant } of started) {
        const cell = summarize(runs.get(`${variant.id} ${route}`) ?? []);
        log(`  ${variant.id.padEnd(26)} ${route.padEnd(13)} ${Math.round(cell.requestsPerSecond).toString().padStart(7)} req/s  p99 ${cell.p99Ms} ms  ${cell.cpuMicrosPerRequest?.toFixed(0) ?? '?'} µs CPU/req`);
      }
    }
    const cells: HttpCell[] = [];
    for (const { variant } of started) {
      for (const route of ROUTES) cells.push({ variant: variant.id, route, ...summarize(runs.get(`${variant.id} ${route}`) ?? []) });
    }
    return withRatios(cells, settings, skipped);
  } finally {
    for (const { server } of started) await server.stop();
  }
}

function ratio(cells: readonly HttpCell[], variant: string, other: string, route: BenchRoute): number | undefined {
  const a = cells.find((cell) => cell.variant === variant && cell.route === route);
  const b = cells.find((cell) => cell.variant === other && cell.route === route);
  return a && b ? a.requestsPerSecond / b.requestsPerSecond : undefined;
}

function withRatios(cells: HttpCell[], settings: LoadSettings, skipped: HttpResult['skipped']): HttpResult {
  const withRatios = cells.map((cell): HttpCell => {
    const variant = VARIANTS.find((v) => v.id === cell.variant);
    const peer = variant?.peer;
    const ceiling = variant?.ceiling ?? 'none';
    return {
      ...cell,
      vsCeiling: cell.variant === ceiling ? undefined : ratio(cells, cell.variant, ceiling, cell.route),
      ...(peer ? { peer, vsPeer: ratio(cells, cell.variant, peer, cell.route) } : {}),
    };
  });
  const comparisons: HttpResult['comparisons'] = [];
  for (const cell of withRatios) {
    if (cell.peer && cell.vsPeer !== undefined) comparisons.push({ variant: cell.variant, peer: cell.peer, route: cell.route, ratio: cell.vsPeer });
  }
  for (const [variant, peer] of EXTRA_COMPARISONS) {
    for (const route of ROUTES) {
      const value = ratio(cells, variant, peer, route);
      if (value !== undefined) comparisons.push({ variant, peer, route, ratio: value });
    }
  }
  return { settings, cells: withRatios, skipped, comparisons };
}

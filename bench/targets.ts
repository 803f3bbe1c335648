import type { BenchRoute, HttpResult } from './http';

/** A performance target of issue 7, as a ratio between two variants on one route in the same run. */
export interface Target {
  readonly variant: string;
  readonly other: string;
  readonly route: BenchRoute;
  /** The ratio variant / other must reach. */
  readonly atLeast: number;
  readonly description: string;
}

export const TARGETS: readonly Target[] = [
  { variant: 'ours-memory', other: 'none', route: 'GET /me', atLeast: 0.95, description: 'memory store within 5% of no session at all' },
  { variant: 'ours-memory', other: 'express-session-memory', route: 'GET /me', atLeast: 1.15, description: 'memory store vs express-session MemoryStore' },
  { variant: 'ours-redis', other: 'express-session-redis', route: 'GET /me', atLeast: 1.3, description: 'Redis vs express-session + connect-redis (read)' },
  { variant: 'ours-redis', other: 'express-session-redis', route: 'POST /visits', atLeast: 1.0, description: 'Redis vs express-session + connect-redis (write)' },
  { variant: 'ours-redis-nocache', other: 'express-session-redis', route: 'GET /me', atLeast: 1.3, description: 'Redis without localCache vs express-session + connect-redis (read)' },
  { variant: 'ours-redis-nocache', other: 'express-session-redis', route: 'POST /visits', atLeast: 1.0, description: 'Redis without localCache vs express-session + connect-redis (write)' },
  { variant: 'ours-cookie', other: 'iron-session', route: 'GET /me', atLeast: 2.0, description: 'cookie mode vs iron-session' },
  { variant: 'ours-cookie', other: 'cookie-session', route: 'GET /me', atLeast: 1.05, description: 'cookie mode (encrypting) vs cookie-session (signing)' },
  // Nest on Fastify (issue 16).
  { variant: 'fastify-ours-memory', other: 'fastify-none', route: 'GET /me', atLeast: 0.9, description: 'Fastify: memory store within 10% of no session' },
  { variant: 'fastify-ours-memory', other: 'fastify-session-memory', route: 'GET /me', atLeast: 1.5, description: 'Fastify: memory store vs @fastify/session' },
  { variant: 'fastify-ours-redis', other: 'fastify-session-redis', route: 'GET /me', atLeast: 1.5, description: 'Fastify: Redis vs @fastify/session + connect-redis' },
  { variant: 'fastify-ours-cookie', other: 'fastify-secure-session', route: 'GET /me', atLeast: 1.2, description: 'Fastify: cookie mode vs @fastify/secure-session' },
];

export interface TargetOutcome extends Target {
  /** Undefined when one of the two variants was not run (service down, or left out). */
  readonly ratio?: number;
  readonly met?: boolean;
}

export function evaluateTargets(http: HttpResult): TargetOutcome[] {
  return TARGETS.map((target) => {
    const a = http.cells.find((cell) => cell.variant === target.variant && cell.route === target.route);
    const b = http.cells.find((cell) => cell.variant === target.other && cell.route === target.route);
    if (!a || !b) return { ...target };
    const ratio = a.requestsPerSecond / b.requestsPerSecond;
    return { ...target, ratio, met: ratio >= target.atLeast };
  });
}

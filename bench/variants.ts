/** A service a variant needs running; its cells are skipped (and said so) when it is down. */
export type BenchService = 'redis' | 'postgres';

export interface Variant {
  /** Stable id used on the command line and in results.json. */
  readonly id: string;
  readonly label: string;
  /** The variant this one is compared with ("the matching peer"); none for the peers themselves. */
  readonly peer?: string;
  readonly service?: BenchService;
  /**
   * The no-session variant of the same platform it is measured against (default `none`, Express).
   * A ceiling names itself: it gets no ratio.
   */
  readonly ceiling?: string;
}

/** The ceiling of the Fastify variants. */
const FASTIFY_CEILING = 'fastify-none';

/** Every app the HTTP benchmark runs, in the order it runs them. */
export const VARIANTS: readonly Variant[] = [
  { id: 'none', label: 'no session (ceiling)' },
  { id: 'ours-memory', label: 'ours, memory store', peer: 'express-session-memory' },
  { id: 'express-session-memory', label: 'express-session, MemoryStore' },
  { id: 'ours-redis', label: 'ours, Redis (localCache)', peer: 'express-session-redis', service: 'redis' },
  { id: 'ours-redis-nocache', label: 'ours, Redis (no cache)', peer: 'express-session-redis', service: 'redis' },
  { id: 'express-session-redis', label: 'express-session + connect-redis', service: 'redis' },
  { id: 'ours-postgres', label: 'ours, PostgreSQL', peer: 'express-session-postgres', service: 'postgres' },
  { id: 'express-session-postgres', label: 'express-session + connect-pg-simple', service: 'postgres' },
  { id: 'ours-cookie', label: 'ours, cookie mode (AES-256-GCM)', peer: 'iron-session' },
  { id: 'iron-session', label: 'iron-session' },
  { id: 'cookie-session', label: 'cookie-session (signed only)' },
  // Nest on Fastify (@nestjs/platform-fastify), each measured against the Fastify ceiling.
  { id: 'fastify-none', label: 'Fastify: no session (ceiling)', ceiling: FASTIFY_CEILING },
  { id: 'fastify-ours-memory', label: 'Fastify: ours, memory store', peer: 'fastify-session-memory', ceiling: FASTIFY_CEILING },
  { id: 'fastify-session-memory', label: 'Fastify: @fastify/session, MemoryStore', ceiling: FASTIFY_CEILING },
  { id: 'fastify-ours-redis', label: 'Fastify: ours, Redis (localCache)', peer: 'fastify-session-redis', service: 'redis', ceiling: FASTIFY_CEILING },
  { id: 'fastify-session-redis', label: 'Fastify: @fastify/session + connect-redis', service: 'redis', ceiling: FASTIFY_CEILING },
  { id: 'fastify-ours-cookie', label: 'Fastify: ours, cookie mode', peer: 'fastify-secure-session', ceiling: FASTIFY_CEILING },
  { id: 'fastify-secure-session', label: 'Fastify: @fastify/secure-session', ceiling: FASTIFY_CEILING },
];

/** Cookie mode is also compared with cookie-session, which signs without encrypting. */
export const EXTRA_COMPARISONS: ReadonlyArray<readonly [variant: string, peer: string]> = [['ours-cookie', 'cookie-session']];

export function findVariant(id: string): Variant {
  const variant = VARIANTS.find((candidate) => candidate.id === id);
  if (!variant) throw new Error(`Unknown bench variant "${id}" (known: ${VARIANTS.map((v) => v.id).join(', ')})`);
  return variant;
}

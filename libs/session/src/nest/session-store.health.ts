import { Inject, Injectable } from '@nestjs/common';
import type { SessionStore } from '../core/session-store';
import { SESSION_STORE } from './session.constants';

/** What a health indicator reports, in the shape `@nestjs/terminus` reads. */
export type SessionStoreHealth<Key extends string = string> = Record<
  Key,
  { status: 'up'; responseTimeMs: number } | { status: 'down'; message: string }
>;

/** Options of {@link SessionStoreHealthIndicator.isHealthy}. */
export interface SessionStoreHealthOptions {
  /** Longest wait for the store's answer, in milliseconds. @default 1000 */
  readonly timeout?: number;
}

// A key no session can have (session keys are SHA-256 hex digests): reading it touches nothing.
const PROBE_KEY = 'health-check-probe';

/**
 * Tells a `@nestjs/terminus` health check whether the session store answers: one read of a key
 * no session uses, bounded in time. A store that is down makes `/health` answer 503, which is what
 * a load balancer needs to stop sending traffic to an instance whose every signed-in request
 * would get 503. No dependency on terminus: the result is the plain `{ [key]: { status } }` object
 * terminus reads.
 *
 * @example
 * \@Get('health') \@HealthCheck()
 * check() {
 *   return this.health.check([() => this.sessionStore.isHealthy('session_store')]);
 * }
 */
@Injectable()
export class SessionStoreHealthIndicator {
  constructor(@Inject(SESSION_STORE) private readonly store: SessionStore) {}

  async isHealthy<const Key extends string = 'session_store'>(
    key: Key = 'session_store' as Key,
    options: SessionStoreHealthOptions = {},
  ): Promise<SessionStoreHealth<Key>> {
    const timeout = options.timeout ?? 1_000;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new RangeError(`SessionStoreHealthIndicator timeout must be a positive number of milliseconds (got ${String(timeout)})`);
    }
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.store.get(PROBE_KEY),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout);
        }),
      ]);
      return { [key]: { status: 'up', responseTimeMs: Math.round(performance.now() - started) } } as SessionStoreHealth<Key>;
    } catch (error) {
      // The reason, not the error itself: it may hold connection strings.
      const reason = error instanceof Error ? error.message : String(error);
      return { [key]: { status: 'down', message: `Session store unavailable: ${reason}` } } as SessionStoreHealth<Key>;
    } finally {
      clearTimeout(timer);
    }
  }
}

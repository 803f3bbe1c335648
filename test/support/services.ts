/** A real server a store suite talks to. */
export type Service = 'redis' | 'postgres' | 'mysql' | 'memcached';

/**
 * `describe` when the server is up (as found by test/support/global-setup.js), otherwise
 * `describe.skip` with one line saying what and why. With CI=true a missing server already failed
 * the run in the global setup, so nothing is silently skipped in CI.
 */
export function describeWithService(service: Service): jest.Describe {
  const up = (process.env.TEST_SERVICES_UP ?? '').split(',').includes(service);
  if (up) return describe;
  console.warn(`[store suites] skipping the ${service} suite: no ${service} server on 127.0.0.1`);
  return describe.skip;
}

/** A name no other test run uses: for key prefixes and table names (letters, digits, _). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

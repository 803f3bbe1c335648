import { redisReconnectStrategy } from './redis-reconnect';

/**
 * Stand-ins for node-redis's error classes (the library does not import `redis`): the strategy
 * reads the class name. test/stores/redis.fault checks it with node-redis's own classes.
 */
class SocketTimeoutError extends Error {}
class ConnectionTimeoutError extends Error {}

function delays(retries: number, cause?: unknown, samples = 200): { min: number; max: number } {
  const seen = Array.from({ length: samples }, () => redisReconnectStrategy(retries, cause));
  return { min: Math.min(...seen), max: Math.max(...seen) };
}

describe('redisReconnectStrategy', () => {
  it('backs off from 25-50 ms, doubling, after refused connections', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    const first = delays(0, refused);
    expect(first.min).toBeGreaterThanOrEqual(25);
    expect(first.max).toBeLessThanOrEqual(50);
    const third = delays(2, refused);
    expect(third.min).toBeGreaterThanOrEqual(100);
    expect(third.max).toBeLessThanOrEqual(200);
  });

  it('is capped at 250-500 ms, jittered, however many attempts failed', () => {
    for (const retries of [4, 10, 1_000]) {
      const capped = delays(retries, new Error('connect ECONNREFUSED'));
      expect(capped.min).toBeGreaterThanOrEqual(250);
      expect(capped.max).toBeLessThanOrEqual(500);
      expect(capped.max - capped.min).toBeGreaterThan(50); // spread, not in step
    }
  });

  it('tries again within 50 ms after an attempt that timed out, which has already waited', () => {
    for (const cause of [new SocketTimeoutError('Socket timeout'), new ConnectionTimeoutError('Connection timeout')]) {
      const after = delays(8, cause);
      expect(after.min).toBeGreaterThanOrEqual(0);
      expect(after.max).toBeLessThanOrEqual(50);
    }
  });

  it('always returns a delay (never gives up), also without a cause', () => {
    for (const cause of [undefined, null, 'a string', 42]) {
      const delay = redisReconnectStrategy(3, cause);
      expect(Number.isInteger(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(0);
    }
  });
});

import {
  computeExpiresAt,
  createExpiryPolicy,
  isExpired,
  isTouchDue,
  MAX_TOUCH_INTERVAL,
  type ExpiryPolicy,
  type SessionTimestamps,
} from './expiry';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = 1_700_000_000_000;

describe('createExpiryPolicy', () => {
  it.each([
    ['a short idle timeout: a tenth of it', 10_000, HOUR, 1_000],
    ['an idle timeout not divisible by ten: rounded down', 1_005, HOUR, 100],
    ['exactly ten minutes: one minute', 10 * MINUTE, HOUR, MAX_TOUCH_INTERVAL],
    ['the 30-minute default: capped at one minute', 30 * MINUTE, 12 * HOUR, MAX_TOUCH_INTERVAL],
    ['a day: capped at one minute', 24 * HOUR, 48 * HOUR, MAX_TOUCH_INTERVAL],
  ])('touchInterval for %s', (_label, idle, absolute, touchInterval) => {
    expect(createExpiryPolicy(idle, absolute)).toEqual({ idleTimeout: idle, absoluteTimeout: absolute, touchInterval });
  });
});

describe('computeExpiresAt', () => {
  const policy = createExpiryPolicy(30 * MINUTE, 12 * HOUR);

  it.each<[string, SessionTimestamps, number]>([
    ['a new session: idle deadline', { createdAt: T0, touchedAt: T0 }, T0 + 30 * MINUTE],
    ['an active session: idle deadline from the last touch', { createdAt: T0, touchedAt: T0 + HOUR }, T0 + HOUR + 30 * MINUTE],
    ['near the absolute limit: absolute deadline', { createdAt: T0, touchedAt: T0 + 12 * HOUR - MINUTE }, T0 + 12 * HOUR],
    ['idle and absolute coincide', { createdAt: T0, touchedAt: T0 + 11.5 * HOUR }, T0 + 12 * HOUR],
  ])('%s', (_label, timestamps, expected) => {
    expect(computeExpiresAt(timestamps, policy)).toBe(expected);
  });
});

describe('isExpired', () => {
  const policy: ExpiryPolicy = createExpiryPolicy(30 * MINUTE, 12 * HOUR); // touchInterval = 1 minute
  const fresh = { createdAt: T0, touchedAt: T0 };

  describe.each<[string, SessionTimestamps, number, boolean]>([
    // idle timeout
    ['just created', fresh, T0, false],
    ['one ms before the idle deadline', fresh, T0 + 30 * MINUTE - 1, false],
    ['exactly at the idle deadline', fresh, T0 + 30 * MINUTE, true],
    ['one ms after the idle deadline', fresh, T0 + 30 * MINUTE + 1, true],
    ['touched recently, long after creation', { createdAt: T0, touchedAt: T0 + 5 * HOUR }, T0 + 5 * HOUR + 29 * MINUTE, false],
    ['idle since its last touch', { createdAt: T0, touchedAt: T0 + 5 * HOUR }, T0 + 5 * HOUR + 30 * MINUTE, true],
    // absolute timeout, however active
    ['active, one ms before the absolute deadline', { createdAt: T0, touchedAt: T0 + 12 * HOUR - MINUTE }, T0 + 12 * HOUR - 1, false],
    ['active, exactly at the absolute deadline', { createdAt: T0, touchedAt: T0 + 12 * HOUR - MINUTE }, T0 + 12 * HOUR, true],
    ['active, well past the absolute deadline', { createdAt: T0, touchedAt: T0 + 20 * HOUR }, T0 + 20 * HOUR + 1, true],
    // timestamps from the future: tolerated up to touchInterval of clock skew, then refused
    ['createdAt within the skew allowance', { createdAt: T0 + MINUTE, touchedAt: T0 }, T0, false],
    ['touchedAt within the skew allowance', { createdAt: T0, touchedAt: T0 + MINUTE }, T0, false],
    ['createdAt one ms beyond the skew allowance', { createdAt: T0 + MINUTE + 1, touchedAt: T0 }, T0, true],
    ['touchedAt one ms beyond the skew allowance', { createdAt: T0, touchedAt: T0 + MINUTE + 1 }, T0, true],
    ['both far in the future', { createdAt: T0 + 24 * HOUR, touchedAt: T0 + 24 * HOUR }, T0, true],
    ['touchedAt in the far future would otherwise extend the idle deadline', { createdAt: T0, touchedAt: T0 + 10 * HOUR }, T0 + 31 * MINUTE, true],
  ])('%s', (_label, timestamps, now, expected) => {
    it(`is ${expected ? 'expired' : 'alive'}`, () => {
      expect(isExpired(timestamps, now, policy)).toBe(expected);
    });
  });
});

describe('isTouchDue', () => {
  const policy = createExpiryPolicy(30 * MINUTE, 12 * HOUR); // touchInterval = 1 minute

  it.each<[string, number, number, boolean]>([
    ['just touched', T0, T0, false],
    ['one ms before the interval', T0, T0 + MINUTE - 1, false],
    ['exactly at the interval', T0, T0 + MINUTE, true],
    ['long after', T0, T0 + 20 * MINUTE, true],
    ['touchedAt in the future', T0 + MINUTE, T0, false],
  ])('%s', (_label, touchedAt, now, expected) => {
    expect(isTouchDue({ createdAt: T0, touchedAt }, now, policy)).toBe(expected);
  });
});

describe('isExpired with timestamps that are not finite numbers', () => {
  const policy = createExpiryPolicy(30 * MINUTE, 12 * 60 * MINUTE);
  const now = T0 + MINUTE;

  // A BIGINT column comes back from pg as a string: `"…" + 1800000` would concatenate, and the
  // "deadline" would never pass. Such a record must read as expired, not as immortal.
  it.each<[string, unknown, unknown]>([
    ['createdAt as a string', String(T0 - 30 * 24 * 60 * MINUTE), T0],
    ['touchedAt as a string', T0, String(T0 - 30 * 24 * 60 * MINUTE)],
    ['createdAt NaN', Number.NaN, T0],
    ['touchedAt Infinity', T0, Number.POSITIVE_INFINITY],
    ['createdAt null', null, T0],
    ['touchedAt undefined', T0, undefined],
  ])('%s is expired', (_label, createdAt, touchedAt) => {
    expect(isExpired({ createdAt, touchedAt } as { createdAt: number; touchedAt: number }, now, policy)).toBe(true);
  });
});

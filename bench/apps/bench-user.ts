/** The principal every variant signs in: the same shape and size everywhere (about 100 bytes of JSON). */
export const BENCH_USER = { id: 'user-1001', name: 'Ada Lovelace', email: 'ada@example.com', roles: ['editor'] };

/** A 32-byte secret for signing and sealing; bench-only, never a real secret. */
export const BENCH_SECRET = 'bench-only-secret-0123456789abcdefghijklmnopqrstuvwxyz';

/** Session lifetime every variant is given, in milliseconds. */
export const BENCH_SESSION_MAX_AGE = 30 * 60 * 1000;

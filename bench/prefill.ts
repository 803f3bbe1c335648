import { generateSessionId, hashSessionId } from '../libs/session/src/core/session-id';
import type { MemoryStore } from '../libs/session/src/stores/memory.store';
import { BENCH_SESSION_MAX_AGE } from './apps/bench-user';

/** Heap used by the store's sessions, measured around the fill with full GCs (needs --expose-gc). */
export interface HeapMeasure {
  readonly before: number;
  readonly after: number;
  readonly sessions: number;
}

function heapUsedAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('prefill needs node --expose-gc to measure the heap');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Writes `count` signed-in sessions of about 200 bytes of JSON each straight into the store (what
 * `count` logins would leave there), and measures the heap they take.
 */
export async function prefillMemoryStore(store: MemoryStore, count: number): Promise<HeapMeasure> {
  const before = heapUsedAfterGc();
  const now = Date.now();
  for (let index = 0; index < count; index++) {
    const data = {
      user: { id: `user-${index}`, name: 'Filler User', email: `filler-${index}@example.com`, roles: ['reader'] },
      csrf: generateSessionId().slice(0, 24),
      visits: index % 100,
      theme: 'dark',
      lastPage: '/articles/2026/11/benchmarks',
    };
    await store.set(hashSessionId(generateSessionId()), {
      data,
      createdAt: now,
      touchedAt: now,
      expiresAt: now + BENCH_SESSION_MAX_AGE,
    });
  }
  const after = heapUsedAfterGc();
  return { before, after, sessions: store.size };
}

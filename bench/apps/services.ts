import { Pool } from 'pg';
import { createClient } from 'redis';

/** Where the bench finds the local services; override with the same variables the example uses. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A name no other run uses: tables and keys of the bench never collide with tests or a second run. */
export const RUN_ID = process.env.BENCH_RUN_ID ?? `${process.pid}`;

/** Something the variant opened and must close and clean up when it stops. */
export type Cleanup = () => Promise<void>;

export async function openRedis(options: { tracking?: boolean } = {}) {
  // With tracking: RESP3 and invalidation messages, for RedisStore's localCache.
  const client = createClient({ url: REDIS_URL, ...(options.tracking ? { RESP: 3 as const, emitInvalidate: true } : {}) });
  client.on('error', () => undefined);
  await client.connect();
  const prefix = `bench:${RUN_ID}:`;
  const cleanup: Cleanup = async () => {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
    await client.close();
  };
  return { client, prefix, cleanup };
}

export function openPostgres() {
  const pool = new Pool({ connectionString: DATABASE_URL, max: 10 });
  pool.on('error', () => undefined);
  const table = `bench_sessions_${RUN_ID}`;
  const cleanup: Cleanup = async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  };
  return { pool, table, cleanup };
}

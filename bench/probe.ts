import { Socket } from 'node:net';
import { DATABASE_URL, REDIS_URL } from './apps/services';
import type { BenchService } from './variants';

/** Whether something accepts TCP connections where the service should be (1 s at most). */
function accepts(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (up: boolean): void => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(Number(port || defaultPort), hostname, () => done(true));
  });
}

/** Which of the services the bench can use are up. */
export async function probeServices(): Promise<Record<BenchService, boolean>> {
  const [redis, postgres] = await Promise.all([accepts(REDIS_URL, 6379), accepts(DATABASE_URL, 5432)]);
  return { redis, postgres };
}

export const SERVICE_HINT: Record<BenchService, string> = {
  redis: `Redis is not answering at ${REDIS_URL} (set REDIS_URL)`,
  postgres: `PostgreSQL is not answering at ${DATABASE_URL} (set DATABASE_URL)`,
};

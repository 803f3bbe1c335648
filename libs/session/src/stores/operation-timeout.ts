import { SessionStoreError } from '../core/errors';

/** Default bound on one store operation, in ms. */
export const DEFAULT_OPERATION_TIMEOUT = 2_000;

/**
 * Bounds a store operation in time. Store clients queue commands while reconnecting (node-redis's
 * offline queue, a pg pool waiting for a connection), so without a bound a request would hang for
 * as long as the server is away; with it the request answers 503 after `timeoutMs`.
 */
export function withOperationTimeout<T>(operation: string, timeoutMs: number, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new SessionStoreError(`Session store ${operation} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
  });
  let running: Promise<T>;
  try {
    running = run();
  } catch (error) {
    clearTimeout(timer);
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
  // A late rejection after the timeout won must not surface as an unhandled rejection.
  running.catch(() => undefined);
  return Promise.race([running, timeout]).finally(() => clearTimeout(timer));
}

/** Validates a timeout option of a store constructor. */
export function checkOperationTimeout(store: string, value: number | undefined): number {
  const timeout = value ?? DEFAULT_OPERATION_TIMEOUT;
  if (!Number.isInteger(timeout) || timeout < 1) {
    throw new RangeError(`${store} operationTimeout must be a positive whole number of milliseconds (got ${String(value)})`);
  }
  return timeout;
}

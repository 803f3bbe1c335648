import { SessionStoreError } from '../core/errors';

/** A store operation that did not finish within its operation timeout. */
export class OperationTimeoutError extends SessionStoreError {}

/** Default bound on one store operation, in ms. */
export const DEFAULT_OPERATION_TIMEOUT = 2_000;

/**
 * Bounds a store operation in time. Store clients queue commands while reconnecting (node-redis's
 * offline queue, a pg pool waiting for a connection), so without a bound a request would hang for
 * as long as the server is away; with it the request answers 503 after `timeoutMs`.
 */
export function withOperationTimeout<T>(operation: string, timeoutMs: number, run: () => Promise<T>): Promise<T> {
  let running: Promise<T>;
  try {
    running = run();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
  // One promise and one timer per operation (this runs on every request): whichever settles
  // first wins, and a late rejection after the timeout is consumed here, never unhandled.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new OperationTimeoutError(`Session store ${operation} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
    running.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        // An error object is passed on as it is (its code and cause, from whichever realm).
        reject(typeof error === 'object' && error !== null ? (error as Error) : new Error(String(error)));
      },
    );
  });
}

/**
 * Reads a store's `operationTimeout` option (the default when absent). An invalid value is added
 * to `problems`, which the store throws as one `SessionConfigError` with its other problems.
 */
export function readOperationTimeout(store: string, value: number | undefined, problems: string[]): number {
  const timeout = value ?? DEFAULT_OPERATION_TIMEOUT;
  if (!Number.isInteger(timeout) || timeout < 1) {
    problems.push(`${store} operationTimeout must be a positive whole number of milliseconds (got ${String(value)})`);
    return DEFAULT_OPERATION_TIMEOUT;
  }
  return timeout;
}

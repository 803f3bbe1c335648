import { toSessionStoreError } from './errors';

/**
 * Runs one call on the session store; whatever it throws becomes a `SessionStoreError` naming the
 * operation (the cause kept), the one error the HTTP layer turns into a 503.
 */
export async function storeCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toSessionStoreError(operation, error);
  }
}

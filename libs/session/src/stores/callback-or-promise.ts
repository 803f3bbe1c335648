/**
 * Calls a method of an express-session-style store and settles once, however the store answers:
 * through the node-style callback, through a returned promise, or both (connect-redis,
 * express-mysql-session and connect-session-knex do both). The first answer wins; a later one,
 * a rejection of the returned promise after the callback ran, or a second call of the callback
 * (stores that call back again when a callback throws) is ignored rather than left unhandled.
 */
export function callbackOrPromise<T>(call: (callback: (error?: unknown, value?: T) => void) => unknown): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    let settled = false;
    const settle = (error: unknown, value: T | undefined): void => {
      if (settled) return;
      settled = true;
      // An error object is passed on as it is (its `code`, from whichever realm); anything else is wrapped.
      if (error !== undefined && error !== null) reject(typeof error === 'object' ? (error as Error) : new Error(`${error as string | number | boolean}`));
      else resolve(value);
    };
    let returned: unknown;
    try {
      returned = call((error, value) => settle(error, value));
    } catch (error) {
      settle(error ?? new Error('the store threw'), undefined);
      return;
    }
    if (isThenable(returned)) {
      returned.then(
        (value) => settle(undefined, value as T | undefined),
        (error: unknown) => settle(error ?? new Error('the store rejected'), undefined),
      );
    }
  });
}

/** Whether a value is a promise (or any thenable). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

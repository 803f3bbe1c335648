/** The session data key flash messages are kept under until they are read. Reserved. */
export const FLASH_KEY = '_flash';

/** Flash messages by type (`info`, `error`, ...), oldest first. */
export type FlashMessages = Record<string, string[]>;

/**
 * The flash messages a session holds, read defensively: the value comes from the store or the
 * cookie, so anything that is not an object of string arrays is dropped rather than trusted.
 */
export function readFlash(value: unknown): FlashMessages {
  const messages: FlashMessages = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return messages;
  for (const [type, list] of Object.entries(value as Record<string, unknown>)) {
    if (!Array.isArray(list)) continue;
    const strings = list.filter((message): message is string => typeof message === 'string');
    // defineProperty: a type named "__proto__" stays a plain key.
    if (strings.length > 0) Object.defineProperty(messages, type, { value: strings, writable: true, enumerable: true, configurable: true });
  }
  return messages;
}

/** Messages plus one more of `type`; a new object, the input is left as it was. */
export function addFlash(current: FlashMessages, type: string, message: string): FlashMessages {
  const next = readFlash(current);
  const list = Object.hasOwn(next, type) ? next[type] : [];
  Object.defineProperty(next, type, { value: [...list, message], writable: true, enumerable: true, configurable: true });
  return next;
}

/**
 * Sets `key` in `map`, first dropping the oldest entry (Maps keep insertion order) when the map
 * already holds `maxEntries`: a memo that cannot grow without bound whatever requests arrive.
 */
export function rememberBounded<K, V>(map: Map<K, V>, key: K, value: V, maxEntries: number): void {
  if (!map.has(key) && map.size >= maxEntries) map.delete(map.keys().next().value!);
  map.set(key, value);
}

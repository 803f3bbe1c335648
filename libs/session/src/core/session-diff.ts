/** The JSON text of each data key of a session: what was last read from or written to the store. */
export type DataSnapshot = ReadonlyMap<string, string>;

/** Per-key differences between two snapshots. */
export interface DataDiff {
  /** Keys added or whose value changed. */
  readonly changed: readonly string[];
  /** Keys present before and gone now. */
  readonly removed: readonly string[];
}

/**
 * Serializes each key of `data` on its own. Keys whose value JSON cannot represent (`undefined`,
 * functions) are left out, as `JSON.stringify` would drop them from the whole object.
 */
export function snapshotData(data: Readonly<Record<string, unknown>>): Map<string, string> {
  const snapshot = new Map<string, string>();
  for (const key of Object.keys(data)) {
    const json = JSON.stringify(data[key]) as string | undefined;
    if (json !== undefined) snapshot.set(key, json);
  }
  return snapshot;
}

/**
 * What changed between two snapshots, key by key. Saving only these keys (not the whole record)
 * is what lets two concurrent requests that changed different keys both keep their change.
 */
export function diffSnapshots(before: DataSnapshot, after: DataSnapshot): DataDiff {
  const changed: string[] = [];
  const removed: string[] = [];
  for (const [key, json] of after) if (before.get(key) !== json) changed.push(key);
  for (const key of before.keys()) if (!after.has(key)) removed.push(key);
  return { changed, removed };
}

/** The values of `keys` (all of them by default) as parsed from a snapshot: objects of their own. */
export function parseSnapshot(snapshot: DataSnapshot, keys: Iterable<string> = snapshot.keys()): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const key of keys) values[key] = JSON.parse(snapshot.get(key)!) as unknown;
  return values;
}

import { SerializedUpdates } from './serialized-updates';

/** A promise the test settles by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('SerializedUpdates', () => {
  it('runs the updates of one key one after another, each naming the revision the previous one left', async () => {
    const updates = new SerializedUpdates(1_000);
    const first = deferred<void>();
    const named: (number | undefined)[] = [];
    const started: string[] = [];
    const a = updates.run('k', 4, async (revision) => {
      started.push('a');
      named.push(revision);
      await first.promise;
      return { result: 'a', revision: revision! + 1 };
    });
    // Both loaded revision 4, as concurrent requests of one session do.
    const b = updates.run('k', 4, (revision) => (started.push('b'), named.push(revision), Promise.resolve({ result: 'b', revision: revision! + 1 })));
    const c = updates.run('k', 4, (revision) => (started.push('c'), named.push(revision), Promise.resolve({ result: 'c' })));
    await Promise.resolve();
    expect(started).toEqual(['a']); // b and c wait for a
    first.resolve();
    await expect(Promise.all([a, b, c])).resolves.toEqual(['a', 'b', 'c']);
    expect(named).toEqual([4, 5, 6]);
    expect(updates.size).toBe(0);
  });

  it('keeps the later of the loaded revision and the one reported (a request that loaded after the previous write)', async () => {
    const updates = new SerializedUpdates(1_000);
    const named: (number | undefined)[] = [];
    const gate = deferred<void>();
    const a = updates.run('k', 1, async () => (await gate.promise, { result: 1, revision: 2 }));
    const b = updates.run('k', 9, (revision) => (named.push(revision), Promise.resolve({ result: 2 })));
    gate.resolve();
    await Promise.all([a, b]);
    expect(named).toEqual([9]);
  });

  it('after a failed update, the next names the revision its own request loaded', async () => {
    const updates = new SerializedUpdates(1_000);
    const named: (number | undefined)[] = [];
    const a = updates.run('k', 3, () => Promise.reject(new Error('timed out')));
    const b = updates.run('k', 3, (revision) => (named.push(revision), Promise.resolve({ result: 'b' })));
    await expect(a).rejects.toThrow('timed out');
    await expect(b).resolves.toBe('b');
    expect(named).toEqual([3]);
  });

  it('leaves an unconditional update unconditional, and keys apart', async () => {
    const updates = new SerializedUpdates(1_000);
    const named: (number | undefined)[] = [];
    const gate = deferred<void>();
    const a = updates.run('k', 1, async () => (await gate.promise, { result: 1, revision: 2 }));
    const b = updates.run('k', undefined, (revision) => (named.push(revision), Promise.resolve({ result: 2 })));
    const other = updates.run('other', 7, (revision) => (named.push(revision), Promise.resolve({ result: 3 })));
    await expect(other).resolves.toBe(3); // not held behind another key's update
    gate.resolve();
    await Promise.all([a, b]);
    expect(named).toEqual([7, undefined]);
  });

  it('stops waiting for an update that never settles after one operation timeout, and the next names its own revision', async () => {
    jest.useFakeTimers();
    try {
      const updates = new SerializedUpdates(400);
      const named: (number | undefined)[] = [];
      // The work under a timed-out operation that the driver never settles.
      void updates.run('k', 5, () => new Promise<never>(() => undefined));
      const next = updates.run('k', 5, (revision) => (named.push(revision), Promise.resolve({ result: 'next', revision: 6 })));
      await jest.advanceTimersByTimeAsync(399);
      expect(named).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      await expect(next).resolves.toBe('next');
      expect(named).toEqual([5]);
    } finally {
      jest.useRealTimers();
    }
  });
});

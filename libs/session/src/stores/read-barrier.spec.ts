import { ReadBarrier } from './read-barrier';

/** A ping whose answers the test gives, in the order the pings were sent. */
function scriptedPing() {
  const answers: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const ping = jest.fn(
    () =>
      new Promise<unknown>((resolve, reject) => {
        answers.push({ resolve: () => resolve('PONG'), reject });
      }),
  );
  return { ping, answers };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ReadBarrier', () => {
  it('shares one PING between the callers of one turn', async () => {
    const { ping, answers } = scriptedPing();
    const barrier = new ReadBarrier(ping);
    const first = barrier.pass();
    const second = barrier.pass();
    expect(ping).toHaveBeenCalledTimes(1);
    answers[0].resolve();
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
  });

  it('gives a caller of a later turn a PING of its own, even while the earlier one is unanswered', async () => {
    const { ping, answers } = scriptedPing();
    const barrier = new ReadBarrier(ping);
    let firstPassed = false;
    let laterPassed = false;
    void barrier.pass().then(() => (firstPassed = true));
    await nextTurn();
    void barrier.pass().then(() => (laterPassed = true));
    expect(ping).toHaveBeenCalledTimes(2);

    // The earlier PING was written before the later caller arrived: it proves nothing for it.
    answers[0].resolve();
    await nextTurn();
    expect(firstPassed).toBe(true);
    expect(laterPassed).toBe(false);

    answers[1].resolve();
    await nextTurn();
    expect(laterPassed).toBe(true);
  });

  it('rejects every caller of the turn when its PING fails, and pings anew next turn', async () => {
    const { ping, answers } = scriptedPing();
    const barrier = new ReadBarrier(ping);
    const first = barrier.pass();
    const second = barrier.pass();
    answers[0].reject(new Error('connection lost'));
    await expect(first).rejects.toThrow('connection lost');
    await expect(second).rejects.toThrow('connection lost');
    await nextTurn();
    const again = barrier.pass();
    expect(ping).toHaveBeenCalledTimes(2);
    answers[1].resolve();
    await expect(again).resolves.toBeUndefined();
  });
});

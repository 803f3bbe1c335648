import { performance } from 'node:perf_hooks';
import request from 'supertest';
import { BROWSER_ACCEPT, type Credentials, median, type RunningApp, startExampleApp } from './support';

// User enumeration: an attacker tells existing usernames from unknown ones by comparing the login
// answers (status, text, headers) or their timing, then targets the accounts that exist. Unknown
// user and wrong password must be indistinguishable.

type Body = Record<string, unknown>;

/** What an attacker can compare: status, body and every header but Date. */
interface Observable {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, unknown>;
}

const KINDS = [
  ['JSON', 'application/json', 'application/json'],
  ['form', 'form', BROWSER_ACCEPT],
] as const;

describe('user enumeration', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startExampleApp();
  });

  afterAll(async () => {
    await running.app.close();
  });

  function attempt(type: string, accept: string, body: Body): request.Test {
    return request(running.server).post('/login').type(type).set('Accept', accept).send(body);
  }

  async function observe(type: string, accept: string, body: Body): Promise<Observable> {
    const res = await attempt(type, accept, body);
    const headers: Record<string, unknown> = { ...res.headers };
    delete headers.date;
    return { status: res.status, body: res.text, headers };
  }

  describe.each(KINDS)('%s login', (_kind, type, accept) => {
    it('unknown user, wrong password and look-alike usernames get the same 401: status, body and headers (except Date)', async () => {
      const reference = await observe(type, accept, { username: 'alice', password: 'wrong-password' });
      expect(reference.status).toBe(401);

      const attempts: Credentials[] = [
        { username: 'mallory', password: 'wrong-password' },
        { username: 'mallory', password: 'alice-password' }, // a real password, for no account
        { username: 'Alice', password: 'alice-password' }, // case variant of a real user
        { username: 'alice ', password: 'alice-password' }, // trailing space
        { username: ' ', password: 'wrong-password' }, // whitespace-only
        { username: 'admin', password: 'alice-password' }, // another real user, someone else's password
        { username: 'x'.repeat(64), password: 'wrong-password' }, // longest accepted username
      ];
      for (const credentials of attempts) {
        const observed = await observe(type, accept, { ...credentials });
        expect({ credentials, ...observed }).toEqual({ credentials, ...reference });
      }
      expect(reference.body).not.toContain('mallory');
    });

    it('empty-ish and invalid values are refused the same way whether the user exists or not', async () => {
      const invalidPasswords: Body[] = [
        { password: '' },
        { password: undefined },
        { password: 'p'.repeat(73) },
        { password: 'tab\tinside' },
        { password: 42 },
      ];
      for (const invalid of invalidPasswords) {
        // The form encoding has no numbers: a number is sent as text there, which is a plain wrong password.
        const existing = await observe(type, accept, { username: 'alice', ...invalid });
        const unknown = await observe(type, accept, { username: 'mallory', ...invalid });
        expect(existing.status).toBeGreaterThanOrEqual(400);
        expect(existing.status).toBeLessThan(500);
        expect({ invalid, ...unknown }).toEqual({ invalid, ...existing });
      }
    });
  });

  it('timing: an unknown user costs about as much as a wrong password (the dummy bcrypt comparison runs)', async () => {
    // Not a performance claim: without the dummy hash an unknown user would answer in ~1 ms and a
    // wrong password in tens of ms (bcrypt cost 10). Interleaving and medians absorb a busy machine.
    const unknownUser = { username: 'mallory', password: 'wrong-password' };
    const wrongPassword = { username: 'alice', password: 'wrong-password' };
    const time = async (body: Body): Promise<number> => {
      const start = performance.now();
      const res = await attempt('application/json', 'application/json', body);
      const elapsed = performance.now() - start;
      expect(res.status).toBe(401);
      return elapsed;
    };
    await time(unknownUser); // warm-up: JIT, connection set-up, bcrypt's thread pool
    await time(wrongPassword);

    const unknownTimes: number[] = [];
    const wrongTimes: number[] = [];
    for (let round = 0; round < 8; round++) {
      // Alternate which goes first, so a drift in machine load affects both alike.
      if (round % 2 === 0) {
        unknownTimes.push(await time(unknownUser));
        wrongTimes.push(await time(wrongPassword));
      } else {
        wrongTimes.push(await time(wrongPassword));
        unknownTimes.push(await time(unknownUser));
      }
    }

    const unknownMedian = median(unknownTimes);
    const wrongMedian = median(wrongTimes);
    const relativeDifference = Math.abs(unknownMedian - wrongMedian) / Math.max(unknownMedian, wrongMedian);
    expect({ unknownMedian, wrongMedian, relativeDifference: relativeDifference < 0.5 }).toEqual({
      unknownMedian,
      wrongMedian,
      relativeDifference: true,
    });
  });
});

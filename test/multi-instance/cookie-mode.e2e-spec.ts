import { openCookieValue } from '@app/session/core/cookie-sealer';
import { KeyRing } from '@app/session/core/key-ring';
import request from 'supertest';
import { cookieValueOf, SESSION_COOKIE } from '../support/cookies';
import { describeWithService } from '../support/services';
import {
  ADMIN,
  ALICE,
  Browser,
  closeAll,
  deleteRedisKeys,
  exampleConfig,
  runName,
  runSeveralInstancesScenario,
  startInstance,
  startsInstances,
  type Instance,
} from './support';

/**
 * Client-side sessions (SESSION_STORE=cookie) on several instances: the session lives in the
 * sealed cookie, so the instances share only the key ring (the same SESSION_SECRET list) and the
 * revocation list (REVOCATION_STORE=redis). Then a key rotation rolled out one instance at a time.
 */

// Test-only secrets (never used outside tests), 32+ bytes each.
const OLD_SECRET = 'rotation-old-secret-test-only-0123456789-abcdefghijklmn';
const NEW_SECRET = 'rotation-new-secret-test-only-9876543210-nmlkjihgfedcba';

type KeyName = 'old' | 'new' | 'neither';

/** Which of the two secrets sealed the browser's cookie. */
function sealedWith(browser: Browser): KeyName {
  const value = cookieValueOf(browser.cookie ?? `${SESSION_COOKIE}=`);
  if (openCookieValue(value, KeyRing.fromSecrets([NEW_SECRET]), SESSION_COOKIE)) return 'new';
  if (openCookieValue(value, KeyRing.fromSecrets([OLD_SECRET]), SESSION_COOKIE)) return 'old';
  return 'neither';
}

/** SESSION_SECRET as an operator sets it: the secrets separated by spaces, newest first. */
function secretsEnv(secrets: readonly string[]): string {
  return secrets.join(' ');
}

describeWithService('redis')('several example instances in cookie mode, sharing the key ring and the revocation list', () => {
  const prefix = `${runName('mi_cookie')}:`;
  const config = exampleConfig({ SESSION_STORE: 'cookie', REVOCATION_STORE: 'redis', SESSION_KEY_PREFIX: prefix });
  const instances = startsInstances(config, () => deleteRedisKeys(config.store.redisUrl, prefix));

  it('a login on A is recognised on B; a write on B re-seals the cookie and A reads it; a logout on A is refused on B', async () => {
    const [a, b] = instances();
    const browser = new Browser('cookie-mode');
    await browser.login(a);
    await browser.shouldBeSignedInOn(b);

    const beforeWrite = browser.copy();
    expect(await browser.visit(b)).toBe(1);
    expect(browser.cookie).not.toBe(beforeWrite.cookie); // B sealed the new state into the cookie
    expect(await browser.visit(a)).toBe(2);
    expect(await browser.visit(b)).toBe(3);

    // Every copy of the cookie, old or current, dies with the logout on every instance: the
    // session's id is on the revocation list they share.
    const current = browser.copy();
    await browser.logout(a);
    expect(browser.cookie).toBeUndefined();
    await current.shouldBeAnonymousOn(b);
    await beforeWrite.shouldBeAnonymousOn(b);
    await current.shouldBeAnonymousOn(a);
  });

  runSeveralInstancesScenario(instances);
});

describeWithService('redis')('key rotation in cookie mode, rolled out one instance at a time', () => {
  const prefix = `${runName('mi_rotate')}:`;
  const env = { SESSION_STORE: 'cookie', REVOCATION_STORE: 'redis', SESSION_KEY_PREFIX: prefix };
  /** The fleet: three instances behind one load balancer; an entry is replaced on restart. */
  const fleet: Instance[] = [];
  const retired: Instance[] = [];

  async function start(name: string, secrets: readonly string[]): Promise<Instance> {
    const config = exampleConfig({ ...env, SESSION_SECRET: secretsEnv(secrets) });
    expect(config.session.secrets).toEqual(secrets);
    return startInstance(name, config);
  }

  /** Restarts fleet[slot] with another secret list: a new instance, then the old one stops. */
  async function restart(slot: number, secrets: readonly string[]): Promise<Instance> {
    const previous = fleet[slot];
    fleet[slot] = await start(`${previous.name.split('@')[0]}@${label(secrets)}`, secrets);
    retired.push(previous);
    await previous.close();
    return fleet[slot];
  }

  function label(secrets: readonly string[]): string {
    return `[${secrets.map((secret) => (secret === OLD_SECRET ? 'old' : 'new')).join(',')}]`;
  }

  /** Every browser is signed in as its user on every instance of the fleet. */
  async function everyoneSignedInEverywhere(browsers: ReadonlyArray<readonly [Browser, string]>): Promise<void> {
    for (const [browser, username] of browsers) {
      for (const instance of fleet) await browser.shouldBeSignedInOn(instance, username);
    }
  }

  afterAll(async () => {
    try {
      await closeAll([...fleet, ...retired]);
    } finally {
      await deleteRedisKeys(exampleConfig(env).store.redisUrl, prefix);
    }
  });

  it('the two-step roll-out ([old] → [old,new] → [new,old]) logs nobody out, at any point, on any instance', async () => {
    for (const name of ['1', '2', '3']) fleet.push(await start(`${name}@${label([OLD_SECRET])}`, [OLD_SECRET]));
    const alice = new Browser('alice-laptop');
    const admin = new Browser('admin-desk');
    const alicePhone = new Browser('alice-phone');
    await alice.login(fleet[0], ALICE);
    await admin.login(fleet[1], ADMIN);
    await alicePhone.login(fleet[2], ALICE);
    const browsers = [
      [alice, ALICE.username],
      [admin, ADMIN.username],
      [alicePhone, ALICE.username],
    ] as const;
    await everyoneSignedInEverywhere(browsers);
    for (const [browser] of browsers) expect(sealedWith(browser)).toBe('old');

    // Step 1: each instance in turn learns the new secret, without using it yet.
    for (const slot of [0, 1, 2]) {
      await restart(slot, [OLD_SECRET, NEW_SECRET]);
      await everyoneSignedInEverywhere(browsers);
      for (const [browser] of browsers) expect(sealedWith(browser)).toBe('old');
    }

    // Step 2: each instance in turn seals with the new secret. Cookies it re-seals (and sessions
    // signed in on it) are opened by the instances still on [old, new].
    for (const slot of [0, 1, 2]) {
      const updated = await restart(slot, [NEW_SECRET, OLD_SECRET]);
      for (const [browser, username] of browsers) {
        await browser.shouldBeSignedInOn(updated, username);
        expect({ slot, sealedWith: sealedWith(browser) }).toEqual({ slot, sealedWith: 'new' });
      }
      await everyoneSignedInEverywhere(browsers);
      // A session signed in on the updated instance, and a write there, on every other one.
      const newcomer = new Browser(`newcomer-${slot}`);
      await newcomer.login(updated, ALICE);
      expect(sealedWith(newcomer)).toBe('new');
      expect(await newcomer.visit(updated)).toBe(1);
      for (const [index, instance] of fleet.entries()) expect(await newcomer.visit(instance)).toBe(2 + index);
    }

    // Done: every instance on [new, old]; everyone still signed in, on cookies sealed with new.
    expect(fleet.map((instance) => instance.config.session.secrets)).toEqual([
      [NEW_SECRET, OLD_SECRET],
      [NEW_SECRET, OLD_SECRET],
      [NEW_SECRET, OLD_SECRET],
    ]);
    await everyoneSignedInEverywhere(browsers);
    for (const [browser] of browsers) expect(sealedWith(browser)).toBe('new');
  });

  it('(a documented negative) skipping step 1: an instance still on [old] does not know cookies sealed with new', async () => {
    const onlyOld = await start(`P@${label([OLD_SECRET])}`, [OLD_SECRET]);
    const alreadyNew = await start(`Q@${label([NEW_SECRET, OLD_SECRET])}`, [NEW_SECRET, OLD_SECRET]);
    retired.push(onlyOld, alreadyNew);

    // Signed in on Q: a cookie sealed with new, which P cannot open: anonymous there, no error.
    const signedInOnQ = new Browser('signed-in-on-Q');
    await signedInOnQ.login(alreadyNew, ALICE);
    expect(sealedWith(signedInOnQ)).toBe('new');
    await signedInOnQ.copy().shouldBeAnonymousOn(onlyOld);
    const page = await request(onlyOld.url).get('/').set('Cookie', signedInOnQ.cookie!).set('Accept', 'text/html');
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('Signed in as');
    const visits = await signedInOnQ.copy().visit(onlyOld);
    expect(visits).toBe(1); // a fresh, anonymous session: the user's data is not there

    // Signed in on P (sealed with old): Q opens it, and re-seals it with new on its answer;
    // from then on P no longer recognises the same user: one request to Q logs them out of P.
    const signedInOnP = new Browser('signed-in-on-P');
    await signedInOnP.login(onlyOld, ALICE);
    expect(sealedWith(signedInOnP)).toBe('old');
    await signedInOnP.shouldBeSignedInOn(alreadyNew);
    expect(sealedWith(signedInOnP)).toBe('new');
    await signedInOnP.shouldBeAnonymousOn(onlyOld);
  });
});

import { createRequire } from 'node:module';
import { readExpressSessionCookie, signExpressSessionId } from './express-session-cookie';

// express-session's own parser and signer (the versions it depends on), as the reference.
const fromExpressSession = createRequire(require.resolve('express-session'));
const cookie = fromExpressSession('cookie') as { parse(header: string): Record<string, string | undefined> };
const signature = fromExpressSession('cookie-signature') as { sign(value: string, secret: string): string; unsign(value: string, secret: string): string | false };

const NAME = 'connect.sid';
const SECRETS = ['new-secret-0123456789', 'old-secret-0123456789'];

/** What express-session's getcookie returns for a header (its header path). */
function reference(header: string, secrets: readonly string[]): string | undefined {
  const raw = cookie.parse(header)[NAME];
  if (!raw || raw.slice(0, 2) !== 's:') return undefined;
  for (const secret of secrets) {
    const value = signature.unsign(raw.slice(2), secret);
    // A falsy id ('' as well as false) is no session id to express-session.
    if (value !== false) return value || undefined;
  }
  return undefined;
}

/*
 * Read as express-session reads it, with one refusal more: two cookies validly signed for
 * different ids (the last test). The random headers below never hold two such cookies.
 */
describe('readExpressSessionCookie', () => {
  const id = 'Xk3_abc-DEF.ghi~jkl';
  const signed = `s:${signature.sign(id, SECRETS[1])}`;
  const other = `s:${signature.sign('other-id', 'another-apps-secret')}`;

  it('signs as cookie-signature does', () => {
    expect(`${id}.${signExpressSessionId(id, SECRETS[0])}`).toBe(signature.sign(id, SECRETS[0]));
  });

  it.each<[string, string]>([
    ['percent-encoded, as express-session writes it', `${NAME}=${encodeURIComponent(signed)}`],
    ['raw', `${NAME}=${signed}`],
    ['quoted', `${NAME}="${encodeURIComponent(signed)}"`],
    ['among other cookies, with blanks', `a=1;  ${NAME} =\t${encodeURIComponent(signed)} ; b=2`],
    ['a valid one first, a forged duplicate after', `${NAME}=${encodeURIComponent(signed)}; ${NAME}=${encodeURIComponent(other)}`],
    ['a forged one first, the valid duplicate after', `${NAME}=${encodeURIComponent(other)}; ${NAME}=${encodeURIComponent(signed)}`],
    ['unsigned', `${NAME}=${id}`],
    ['a broken escape', `${NAME}=${encodeURIComponent(signed)}%E0%A4%A`],
    ['padding kept on the signature', `${NAME}=${encodeURIComponent(signed)}=`],
    ['signed with another secret', `${NAME}=${encodeURIComponent(other)}`],
    ['a truncated signature', `${NAME}=${encodeURIComponent(signed.slice(0, -1))}`],
    ['no dot', `${NAME}=s%3Aabcdef`],
    ['only the prefix', `${NAME}=s%3A`],
    ['a lone quote', `${NAME}="`],
    ['a pair without =, then the cookie', `junk; ${NAME}=${encodeURIComponent(signed)}`],
    ['an empty header', ''],
    ['a similar name', `x${NAME}=${encodeURIComponent(signed)}`],
    ['an empty id, validly signed', `${NAME}=${encodeURIComponent(`s:${signature.sign('', SECRETS[0])}`)}`],
  ])('reads %s exactly as express-session does', (_case, header) => {
    expect(readExpressSessionCookie(header, NAME, SECRETS)).toBe(reference(header, SECRETS));
  });

  it('agrees with express-session on random headers: valid cookies, mutated ones and junk around them', () => {
    const junk = ['a=b', ';', ' ', '\t', '"', '%', '%2', '=', 's:', '.', 'x', NAME];
    const values = [encodeURIComponent(signed), signed, `"${encodeURIComponent(signed)}"`, other, encodeURIComponent(other)];
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const pick = <T>(list: readonly T[]): T => list[random(list.length)];
    const mutate = (value: string): string => {
      const at = random(value.length + 1);
      switch (random(4)) {
        case 0:
          return value; // intact
        case 1:
          return value.slice(0, at) + pick(junk) + value.slice(at); // something inserted
        case 2:
          return value.slice(0, at) + value.slice(at + 1); // a character dropped
        default:
          return value.slice(0, at) + value.slice(at).replace(/./, (char) => (char === 'A' ? 'B' : 'A')); // a character changed
      }
    };
    let accepted = 0;
    for (let run = 0; run < 3000; run++) {
      let header = '';
      for (let index = random(3); index > 0; index--) header += `${pick(junk)}${pick(junk)}; `;
      header += `${NAME}=${mutate(pick(values))}`;
      for (let index = random(3); index > 0; index--) header += `; ${random(2) === 0 ? `${NAME}=${mutate(pick(values))}` : pick(junk)}`;
      const expected = reference(header, SECRETS);
      if (expected !== undefined) accepted++;
      expect([header, readExpressSessionCookie(header, NAME, SECRETS)]).toEqual([header, expected]);
    }
    // Valid cookies come up often enough for the agreement to mean something.
    expect(accepted).toBeGreaterThan(300);
  });

  it('refuses two cookies validly signed for different ids (cookie tossing), where express-session would take the first', () => {
    const tossed = `s:${signature.sign('attackers-id', SECRETS[0])}`;
    const header = `${NAME}=${encodeURIComponent(tossed)}; ${NAME}=${encodeURIComponent(signed)}`;
    expect(reference(header, SECRETS)).toBe('attackers-id');
    expect(readExpressSessionCookie(header, NAME, SECRETS)).toBeUndefined();
    // The same id twice is no ambiguity.
    expect(readExpressSessionCookie(`${NAME}=${encodeURIComponent(signed)}; ${NAME}=${signed}`, NAME, SECRETS)).toBe(id);
  });

  it('accepts the id with any of the secrets, and nothing without a header', () => {
    const header = `${NAME}=${encodeURIComponent(signed)}`;
    expect(readExpressSessionCookie(header, NAME, SECRETS)).toBe(id);
    expect(readExpressSessionCookie(header, NAME, [SECRETS[0]])).toBeUndefined();
    expect(readExpressSessionCookie(undefined, NAME, SECRETS)).toBeUndefined();
  });
});

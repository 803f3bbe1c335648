import { SessionStoreError } from './errors';
import { checkOwnerUserId, checkSessionOwner, MAX_IP_LENGTH, MAX_USER_AGENT_LENGTH, MAX_USER_ID_LENGTH, ownerRefusal, sessionOwner } from './session-owner';

const ENDS_BY = 1_700_000_000_000;

describe('checkSessionOwner: the one owner rule of every store', () => {
  it('accepts the longest fields, counted in code points (4-byte characters included)', () => {
    const owner = { userId: '🎉'.repeat(MAX_USER_ID_LENGTH), ip: 'i'.repeat(MAX_IP_LENGTH), userAgent: 'ü'.repeat(MAX_USER_AGENT_LENGTH), endsBy: ENDS_BY };
    expect(checkSessionOwner(owner, 'TestStore set')).toBe(owner);
  });

  it.each<[string, unknown, RegExp]>([
    ['not an object', null, /TestStore set refused the owner: it must be an object with userId and endsBy \(got null\)/],
    ['an empty user id', { userId: '', endsBy: ENDS_BY }, /owner\.userId must be a well-formed string of 1 to 255 characters \(got 0 characters\)/],
    ['a user id of 256 code points', { userId: '🎉'.repeat(256), endsBy: ENDS_BY }, /owner\.userId .* \(got 256 characters\)/],
    ['a numeric user id', { userId: 42, endsBy: ENDS_BY }, /owner\.userId .* \(got number\)/],
    ['a lone surrogate', { userId: 'u\ud800', endsBy: ENDS_BY }, /owner\.userId must be a well-formed string/],
    ['an ip too long', { userId: 'u', ip: '1'.repeat(256), endsBy: ENDS_BY }, /owner\.ip must be a well-formed string of at most 255 characters/],
    ['a user agent too long', { userId: 'u', userAgent: 'a'.repeat(513), endsBy: ENDS_BY }, /owner\.userAgent must be a well-formed string of at most 512 characters/],
    ['a missing endsBy', { userId: 'u' }, /owner\.endsBy must be a finite number/],
  ])('refuses %s with a SessionStoreError naming the problem', (_label, owner, message) => {
    expect(() => checkSessionOwner(owner, 'TestStore set')).toThrow(SessionStoreError);
    expect(() => checkSessionOwner(owner, 'TestStore set')).toThrow(message);
    expect(ownerRefusal(owner, 'TestStore set')).toBeInstanceOf(SessionStoreError);
  });

  it('passes every owner the core itself makes, however odd the device', () => {
    const owner = sessionOwner('u'.repeat(MAX_USER_ID_LENGTH), { ip: `\u0000${'9'.repeat(400)}`, userAgent: `x\ud800${'y'.repeat(900)}` }, ENDS_BY);
    expect(ownerRefusal(owner, 'TestStore set')).toBeUndefined();
  });

  it('checks a user id alone (listByUser)', () => {
    expect(checkOwnerUserId('alice', 'TestStore listByUser')).toBe('alice');
    expect(() => checkOwnerUserId('', 'TestStore listByUser')).toThrow(/TestStore listByUser refused the owner/);
  });
});

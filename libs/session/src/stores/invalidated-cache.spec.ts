import { InvalidatedCache } from './invalidated-cache';

describe('InvalidatedCache', () => {
  it('keeps a filled value until it is invalidated', () => {
    const cache = new InvalidatedCache<string>(10);
    const token = cache.beginFill('a');
    cache.completeFill('a', token, 'one');
    expect(cache.get('a')).toBe('one');
    cache.invalidate('a');
    expect(cache.get('a')).toBeUndefined();
  });

  it('drops a fill whose key was invalidated while the read was in flight', () => {
    const cache = new InvalidatedCache<string>(10);
    const token = cache.beginFill('a');
    cache.invalidate('a');
    cache.completeFill('a', token, 'stale');
    expect(cache.get('a')).toBeUndefined();
  });

  it('drops every fill in flight when everything is invalidated (null: flush or lost connection)', () => {
    const cache = new InvalidatedCache<string>(10);
    const kept = cache.beginFill('a');
    cache.completeFill('a', kept, 'one');
    const inFlight = cache.beginFill('b');
    cache.invalidate(null);
    cache.completeFill('b', inFlight, 'stale');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps only the latest of two overlapping fills of one key', () => {
    const cache = new InvalidatedCache<string>(10);
    const first = cache.beginFill('a');
    const second = cache.beginFill('a');
    cache.completeFill('a', first, 'older');
    expect(cache.get('a')).toBeUndefined();
    cache.completeFill('a', second, 'newer');
    expect(cache.get('a')).toBe('newer');
  });

  it('forgets an abandoned fill, and a later invalidation-free fill still works', () => {
    const cache = new InvalidatedCache<string>(10);
    const failed = cache.beginFill('a');
    cache.abandonFill('a', failed);
    cache.completeFill('a', failed, 'late');
    expect(cache.get('a')).toBeUndefined();
    const token = cache.beginFill('a');
    cache.completeFill('a', token, 'ok');
    expect(cache.get('a')).toBe('ok');
  });

  it('evicts the oldest entry when full', () => {
    const cache = new InvalidatedCache<number>(3);
    for (let index = 0; index < 5; index++) cache.completeFill(`k${index}`, cache.beginFill(`k${index}`), index);
    expect(cache.size).toBe(3);
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.get('k1')).toBeUndefined();
    expect(cache.get('k4')).toBe(4);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => new InvalidatedCache(0)).toThrow(RangeError);
    expect(() => new InvalidatedCache(1.5)).toThrow(RangeError);
  });
});

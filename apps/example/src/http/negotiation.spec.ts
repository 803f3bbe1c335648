import { acceptsHtml, mediaTypeOf, prefersJson, sendsForm, sendsJson } from './negotiation';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const FETCH_JSON = 'application/json, text/plain, */*';

describe('content negotiation from headers', () => {
  it('reads the media type of Content-Type, whatever the case and parameters', () => {
    expect(mediaTypeOf('Application/JSON; charset=UTF-8')).toBe('application/json');
    expect(mediaTypeOf(undefined)).toBeUndefined();
    expect(mediaTypeOf(' ; charset=utf-8')).toBeUndefined();
    expect(sendsJson('application/json;charset=utf-8')).toBe(true);
    expect(sendsJson('application/vnd.api+json')).toBe(false);
    expect(sendsForm('application/x-www-form-urlencoded')).toBe(true);
    expect(sendsForm('multipart/form-data; boundary=x')).toBe(false);
  });

  it.each([
    ['no Accept', undefined, false],
    ['a browser', BROWSER, false],
    ['*/*', '*/*', false],
    ['JSON only', 'application/json', true],
    ['an HTTP client preferring JSON', FETCH_JSON, true],
    ['JSON weighted above HTML', 'text/html;q=0.5, application/json', true],
    ['neither (text/plain)', 'text/plain', false],
  ])('prefers JSON for %s: %j', (_, accept, json) => {
    expect(prefersJson(undefined, accept)).toBe(json);
  });

  it('answers JSON to a JSON body whatever Accept says', () => {
    expect(prefersJson('application/json', BROWSER)).toBe(true);
  });

  it('takes HTML unless Accept leaves it out', () => {
    expect(acceptsHtml(undefined)).toBe(true);
    expect(acceptsHtml(BROWSER)).toBe(true);
    expect(acceptsHtml('*/*')).toBe(true);
    expect(acceptsHtml('application/json')).toBe(false);
    expect(acceptsHtml('text/html;q=0')).toBe(false);
  });
});

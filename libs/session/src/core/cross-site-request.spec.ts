import { isCrossSiteHandshake, isCrossSiteRequest, type RequestOriginInfo } from './cross-site-request';

const OWN = 'https://app.example';
const request = (overrides: Partial<RequestOriginInfo>): RequestOriginInfo => ({
  method: 'POST',
  origin: undefined,
  secFetchSite: undefined,
  ownOrigin: OWN,
  allowedOrigins: [],
  ...overrides,
});

describe('isCrossSiteRequest', () => {
  it.each<[string, Partial<RequestOriginInfo>, boolean]>([
    // Safe methods never change state: allowed from anywhere.
    ['a cross-site GET', { method: 'GET', origin: 'https://evil.example', secFetchSite: 'cross-site' }, false],
    ['a cross-site HEAD', { method: 'HEAD', secFetchSite: 'cross-site' }, false],
    ['a cross-site OPTIONS (preflight)', { method: 'OPTIONS', origin: 'https://evil.example' }, false],
    // Sec-Fetch-Site decides when present.
    ['a same-origin POST', { secFetchSite: 'same-origin', origin: OWN }, false],
    ['a POST the user started (typed url, bookmark)', { secFetchSite: 'none' }, false],
    ['a cross-site POST', { secFetchSite: 'cross-site', origin: 'https://evil.example' }, true],
    ['a cross-site POST without Origin', { secFetchSite: 'cross-site' }, true],
    ['a same-site POST from a sibling subdomain', { secFetchSite: 'same-site', origin: 'https://blog.app.example' }, true],
    ['a cross-site POST from an allowed origin', { secFetchSite: 'cross-site', origin: 'https://admin.example', allowedOrigins: ['https://admin.example'] }, false],
    ['an upper-case header value', { secFetchSite: 'CROSS-SITE', origin: 'https://evil.example' }, true],
    ['a cross-site DELETE', { method: 'delete', secFetchSite: 'cross-site' }, true],
    ['a cross-site PUT', { method: 'PUT', secFetchSite: 'cross-site' }, true],
    ['a cross-site PATCH', { method: 'PATCH', secFetchSite: 'cross-site' }, true],
    // Without Sec-Fetch-Site (older browsers), Origin decides.
    ['a POST with our own Origin', { origin: OWN }, false],
    ['a POST with a foreign Origin', { origin: 'https://evil.example' }, true],
    ['a POST with Origin: null (sandboxed frame, data: url)', { origin: 'null' }, true],
    ['a POST with our host on another scheme', { origin: 'http://app.example' }, true],
    ['a POST with our host on another port', { origin: 'https://app.example:8443' }, true],
    ['a POST from an allowed origin', { origin: 'https://admin.example', allowedOrigins: ['https://admin.example'] }, false],
    ['a POST from a lookalike of an allowed origin', { origin: 'https://admin.example.evil', allowedOrigins: ['https://admin.example'] }, true],
    // Neither header: not sent by a browser page (curl, a server), which CSRF needs.
    ['a POST with neither header', {}, false],
    ['an empty Sec-Fetch-Site falls back to Origin', { secFetchSite: '', origin: 'https://evil.example' }, true],
  ])('%s → cross-site: %s', (_label, overrides, expected) => {
    expect(isCrossSiteRequest(request(overrides))).toBe(expected);
  });
});

describe('isCrossSiteHandshake', () => {
  const handshake = (origin: string | undefined, secFetchSite?: string) => ({ origin, secFetchSite, ownOrigin: OWN, allowedOrigins: ['https://admin.example'] });

  it.each<[string, string | undefined, string | undefined, boolean]>([
    ["the application's own page", OWN, undefined, false],
    ['an allowed origin', 'https://admin.example', 'same-site', false],
    ['no Origin (not a browser page)', undefined, undefined, false],
    ['another site (a GET, judged as unsafe)', 'https://evil.example', undefined, true],
    ['another site, Sec-Fetch-Site cross-site', 'https://evil.example', 'cross-site', true],
    ['a sibling subdomain', 'https://evil.app.example', 'same-site', true],
    ['Origin: null (sandboxed frame)', 'null', undefined, true],
    ['the same host over the other scheme', 'http://app.example', undefined, true],
  ])('%s → cross-site: %s', (_name, origin, site, expected) => {
    expect(isCrossSiteHandshake(handshake(origin, site))).toBe(expected);
  });
});

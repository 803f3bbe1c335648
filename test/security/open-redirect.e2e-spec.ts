import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { ALICE, BROWSER_ACCEPT, type RunningApp, shouldStayOnSite, SITE, startExampleApp } from './support';

// Open redirect: a link to the real site (`/login?returnTo=...`, or a protected page) that sends
// the user, once logged in, to an attacker's page that looks like the site (phishing), or runs a
// `javascript:` URL. After login the Location must always be a path on this site.

/** Returns to the default page: the value is refused. */
const REFUSED = '/';
/** Any same-origin path is acceptable (the value is odd but harmless). */
const ANY_PATH = undefined;

type Case = readonly [label: string, returnTo: string, expected: string | undefined];

// Values as the app receives them (after the query string is decoded once), sent encoded.
const VALUES: readonly Case[] = [
  ['protocol-relative //evil.example', '//evil.example', REFUSED],
  ['backslash /\\evil.example', '/\\evil.example', REFUSED],
  ['double backslash \\\\evil.example', '\\\\evil.example', REFUSED],
  ['encoded slashes /%2F%2Fevil.example', '/%2F%2Fevil.example', REFUSED],
  ['encoded backslash /%5Cevil.example', '/%5Cevil.example', REFUSED],
  ['no leading slash %2F%2Fevil.example', '%2F%2Fevil.example', REFUSED],
  ['double-encoded /%252F%252Fevil.example', '/%252F%252Fevil.example', REFUSED],
  ['tab /\\t/evil', '/\t/evil', REFUSED],
  ['encoded tab /%09/evil', '/%09/evil', REFUSED],
  ['newline /\\n/evil', '/\n/evil', REFUSED],
  ['carriage return /\\r/evil', '/\r/evil', REFUSED],
  ['encoded CR LF /%0D%0A/evil', '/%0D%0A/evil', REFUSED],
  ['leading space  //evil.example', ' //evil.example', REFUSED],
  ['javascript:alert(1)', 'javascript:alert(1)', REFUSED],
  ['mixed case JaVaScRiPt:alert(1)', 'JaVaScRiPt:alert(1)', REFUSED],
  ['data:text/html,x', 'data:text/html,x', REFUSED],
  ['absolute https://evil.example', 'https://evil.example', REFUSED],
  ['scheme without slashes http:evil.example', 'http:evil.example', REFUSED],
  ['userinfo //user@evil.example', '//user@evil.example', REFUSED],
  ['fullwidth slashes ／／evil.example', '／／evil.example', REFUSED],
  ['over-long path (3000 characters)', `/${'a'.repeat(2999)}`, REFUSED],
  ['same-origin path /@evil.example (allowed)', '/@evil.example', '/@evil.example'],
  ['ideographic full stop /\u3002evil', '/\u3002evil', ANY_PATH],
  ['fullwidth solidus after a slash /／evil.example', '/／evil.example', ANY_PATH],
];

// Raw query strings, exactly as they appear in the link.
const RAW_QUERIES: readonly Case[] = [
  ['raw /%2F%2Fevil.example (decoded by the query parser to //evil.example)', 'returnTo=/%2F%2Fevil.example', REFUSED],
  ['raw %2F%2Fevil.example', 'returnTo=%2F%2Fevil.example', REFUSED],
  ['raw /%5Cevil.example', 'returnTo=/%5Cevil.example', REFUSED],
  ['raw /%09/evil', 'returnTo=/%09/evil', REFUSED],
  ['raw /%0A/evil', 'returnTo=/%0A/evil', REFUSED],
  ['raw fullwidth slashes', 'returnTo=%EF%BC%8F%EF%BC%8Fevil.example', REFUSED],
  ['raw ideographic full stop', 'returnTo=/%E3%80%82evil', ANY_PATH],
  ['duplicated returnTo (safe, then unsafe)', 'returnTo=/a&returnTo=//evil.example', REFUSED],
  ['duplicated returnTo (unsafe, then safe)', 'returnTo=//evil.example&returnTo=/a', REFUSED],
  ['array syntax returnTo[]=//evil', 'returnTo[]=//evil.example', REFUSED],
  ['indexed array syntax returnTo[0]=//evil', 'returnTo[0]=//evil.example', REFUSED],
  ['object syntax returnTo[href]=//evil', 'returnTo[href]=//evil.example', REFUSED],
];

describe('open redirect', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startExampleApp();
  });

  afterAll(async () => {
    await running.app.close();
  });

  /** Opens the login page with a query, logs in with the form, and returns the Location. */
  async function loginThroughLoginPage(query: string): Promise<{ location: string; browser: ReturnType<typeof request.agent> }> {
    const browser = request.agent(running.server);
    const page = await browser.get(`/login?${query}`).set('Accept', BROWSER_ACCEPT);
    expect(page.status).toBe(200);
    const login = await browser.post('/login').type('form').set('Accept', BROWSER_ACCEPT).send(ALICE);
    expect(login.status).toBe(303);
    return { location: shouldStayOnSite(login.headers.location), browser };
  }

  describe.each([
    ['GET /login?returnTo=<value> then a form login', VALUES.map(([label, value, expected]): Case => [label, `returnTo=${encodeURIComponent(value)}`, expected])],
    ['GET /login?<raw query> then a form login', RAW_QUERIES],
  ])('%s', (_route, cases) => {
    it.each(cases)('%s: lands on this site', async (_label, query, expected) => {
      const { location, browser } = await loginThroughLoginPage(query);

      if (expected !== undefined) expect(location).toBe(expected);
      const landed = await browser.get(location).set('Accept', BROWSER_ACCEPT);
      expect(landed.status).toBeLessThan(500);
    });
  });

  describe("through the guard's redirect (a protected page with the trick in its query)", () => {
    it.each(VALUES)('%s: the login link and the final Location stay on this site', async (_label, value) => {
      const browser = request.agent(running.server);
      const protectedPage = `/articles/create?next=${encodeURIComponent(value)}`;

      const guard = await browser.get(protectedPage).set('Accept', BROWSER_ACCEPT);

      expect(guard.status).toBe(303);
      const loginLink = new URL(shouldStayOnSite(guard.headers.location), SITE);
      expect(loginLink.pathname).toBe('/login');
      const remembered = loginLink.searchParams.get('returnTo');
      if (remembered !== null) {
        shouldStayOnSite(remembered);
        expect(remembered).toBe(protectedPage);
      }

      const page = await browser.get(`${loginLink.pathname}${loginLink.search}`).set('Accept', BROWSER_ACCEPT);
      expect(page.status).toBe(200);
      const login = await browser.post('/login').type('form').set('Accept', BROWSER_ACCEPT).send(ALICE);
      expect(login.status).toBe(303);
      const location = shouldStayOnSite(login.headers.location);
      expect(location).toBe(remembered ?? '/');
      const landed = await browser.get(location).set('Accept', BROWSER_ACCEPT);
      expect(landed.status).toBe(200);
    });

    it('request targets that are themselves tricks (raw paths) never produce an off-site Location', async () => {
      const httpServer = running.app.getHttpServer() as Server;
      if (!httpServer.listening) await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
      const { port } = httpServer.address() as AddressInfo;
      const paths = [
        '//evil.example/articles/create',
        '//evil.example',
        '/\\evil.example/articles/create',
        '/articles/create/..//evil.example',
        '/articles//create',
        '/articles/create/',
        '/articles/create?returnTo=//evil.example',
        `/articles/create?${'a'.repeat(3000)}`,
        'http://evil.example/articles/create',
        'https://evil.example//articles/create',
      ];
      for (const path of paths) {
        const res = await new Promise<IncomingMessage>((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port, method: 'GET', path, headers: { Accept: BROWSER_ACCEPT } }, resolve);
          req.on('error', reject);
          req.end();
        });
        res.resume();
        expect({ path, serverError: (res.statusCode ?? 500) >= 500 }).toEqual({ path, serverError: false });
        if (res.headers.location !== undefined) {
          const link = new URL(shouldStayOnSite(res.headers.location), SITE);
          const remembered = link.searchParams.get('returnTo');
          if (remembered !== null) shouldStayOnSite(remembered);
        }
      }
    });
  });
});

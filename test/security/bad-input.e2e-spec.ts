import type { INestApplication } from '@nestjs/common';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createExampleApp } from '../support/example-app';

/** Sends one raw request and resolves with the status (or 'closed' when the server hung up). */
function rawStatus(port: number, head: string): Promise<number | 'closed'> {
  return new Promise((resolve) => {
    const lines = head.split('\r\n');
    const [method, path] = lines[0].split(' ');
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const at = line.indexOf(':');
      if (at > 0) headers[line.slice(0, at)] = line.slice(at + 1).trim();
    }
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve('closed'));
    req.end();
  });
}

describe('Bad input the issue lists explicitly, on the example app', () => {
  let app: INestApplication;
  let port: number;

  beforeAll(async () => {
    app = await createExampleApp();
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer() as { address(): AddressInfo }).address().port;
  });

  afterAll(async () => {
    await app.close();
  });

  it('a header section over Node\'s 16 KB limit is refused by the HTTP layer (431), never reaching the app', async () => {
    const status = await rawStatus(port, `GET /me HTTP/1.1\r\nX-Huge: ${'a'.repeat(20_000)}`);
    expect(status === 431 || status === 'closed').toBe(true);
  });

  it('an oversized header on a reused keep-alive connection gets its 431 too, not a hang-up', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (headers: Record<string, string>) =>
      new Promise<number | string>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/me', headers: { Accept: 'application/json', ...headers }, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', (error) => resolve(error.message));
        req.end();
      });
    try {
      // The first answer makes the connection one that has written already.
      expect(await get({})).toBe(401);
      expect(await get({ Cookie: `c=${'x'.repeat(200_000)}` })).toBe(431);
    } finally {
      agent.destroy();
    }
  });

  it.each<[string, string]>([
    ['a j:-prefixed JSON cookie (cookie-parser syntax) as the session cookie', 'sid=j:{"user":{"id":"admin","roles":["admin"]}}'],
    ['a j: cookie beside others', 'theme=j:{"a":1}; sid=j:[1,2,3]'],
    ['an s:-prefixed signed cookie (cookie-parser syntax)', 'sid=s:anything.signature'],
    ['an 8 KB session cookie', `sid=${'x'.repeat(8 * 1024)}`],
    ['100 cookies', Array.from({ length: 100 }, (_, index) => `c${index}=${index}`).join('; ')],
    ['prototype-named cookies', '__proto__=x; constructor=y; prototype=z; hasOwnProperty=1'],
  ])('%s: no authentication, no 5xx', async (_label, cookie) => {
    const me = await request(app.getHttpServer()).get('/me').set('Cookie', cookie);
    expect(me.status).toBe(401);
    const admin = await request(app.getHttpServer()).get('/admin').set('Cookie', cookie);
    expect(admin.status).toBe(401);
  });

  it.each<[string, string, string]>([
    ['an XML body', 'application/xml', '<login><username>alice</username><password>alice-password</password></login>'],
    ['a text/plain body', 'text/plain', 'username=alice&password=alice-password'],
    ['a JSON body with CR/LF in the username', 'application/json', JSON.stringify({ username: 'alice\r\nSet-Cookie: x=1', password: 'x' })],
    ['a JSON body nested 5000 levels', 'application/json', `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`],
    ['a form body with a nested key', 'application/x-www-form-urlencoded', 'username[a]=alice&password=alice-password'],
    ['a form body with __proto__ keys', 'application/x-www-form-urlencoded', '__proto__[admin]=1&username=alice&password=wrong'],
  ])('POST /login with %s gets a 4xx, never a 5xx, and no session', async (_label, type, body) => {
    const response = await request(app.getHttpServer()).post('/login').set('Content-Type', type).send(body);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  it('the app still answers after all of that', async () => {
    await request(app.getHttpServer()).post('/login').send({ username: 'alice', password: 'alice-password' }).expect(200);
  });
});

import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { App } from 'supertest/types';
import { createExampleApp } from '../support/example-app';

/** The example's GET /health on whichever store SESSION_STORE names (CI runs it on each). */
describe('example GET /health', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await createExampleApp();
  });

  afterAll(async () => {
    await app.close();
  });

  it('answers 200 with the session store up, and sets no cookie', async () => {
    const response = await request(app.getHttpServer() as App).get('/health');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'ok', info: { session_store: { status: 'up' } } });
    expect(response.headers['set-cookie']).toBeUndefined();
  });
});

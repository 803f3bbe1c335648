import request from 'supertest';
import { createExampleApp } from '../support/example-app';

it('boots', async () => {
  const app = await createExampleApp();
  const res = await request(app.getHttpServer()).get('/me');
  expect(res.status).toBe(401);
  await app.close();
});

import { Controller, Get, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { App } from 'supertest/types';
import { SessionModule, SessionStoreHealthIndicator } from '@app/session';
import { FailingStore, TEST_SECRET } from '../support/test-stores';
import { createTestApp } from '../support/http-platform';

/** The session store's health through @nestjs/terminus: up, down (failing), down (hanging), back up. */
@Controller()
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly sessionStore: SessionStoreHealthIndicator,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.sessionStore.isHealthy('session_store', { timeout: 200 })]);
  }
}

describe('SessionStoreHealthIndicator with @nestjs/terminus', () => {
  let app: INestApplication;
  let store: FailingStore;
  let server: App;

  beforeAll(async () => {
    store = new FailingStore();
    const moduleRef = await Test.createTestingModule({
      imports: [TerminusModule.forRoot({ logger: false }), SessionModule.forRoot({ secret: TEST_SECRET, store })],
      controllers: [HealthController],
    }).compile();
    app = await createTestApp(moduleRef, { logger: false });
    server = app.getHttpServer() as App;
  });

  afterAll(async () => {
    await app.close();
  });

  it('answers 200 with the store up while it answers', async () => {
    const response = await request(server).get('/health');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'ok', info: { session_store: { status: 'up' } } });
  });

  it('answers 503 with the store down while it fails, without leaking the error object', async () => {
    store.goDown(['get'], { hangMs: 5 });
    try {
      const response = await request(server).get('/health');
      expect(response.status).toBe(503);
      expect(response.body).toMatchObject({ status: 'error', error: { session_store: { status: 'down' } } });
      expect((response.body as { error: { session_store: { message: string } } }).error.session_store.message).toMatch(/^Session store unavailable: /);
    } finally {
      store.recover();
    }
  });

  it('answers 503 when the store does not answer within the timeout, then 200 once it is back', async () => {
    store.goDown(['get'], { hangMs: 1_000 });
    try {
      const started = Date.now();
      const response = await request(server).get('/health');
      expect(response.status).toBe(503);
      expect((response.body as { error: { session_store: { message: string } } }).error.session_store.message).toContain('no answer within 200 ms');
      expect(Date.now() - started).toBeLessThan(900);
    } finally {
      store.recover();
    }
    await request(server).get('/health').expect(200);
  });

  it('refuses a timeout that is not a positive number', async () => {
    await expect(app.get(SessionStoreHealthIndicator).isHealthy('x', { timeout: 0 })).rejects.toThrow(RangeError);
  });
});

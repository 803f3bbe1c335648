import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { SessionStoreHealthIndicator } from '@app/session';

/**
 * `GET /health` for load balancers and orchestrators: 200 while the session store answers, 503
 * (with the reason) while it does not, so traffic moves to instances that can serve sessions.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly sessionStore: SessionStoreHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.sessionStore.isHealthy('session_store')]);
  }
}

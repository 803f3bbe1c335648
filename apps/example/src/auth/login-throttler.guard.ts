import { ExecutionContext, HttpException, HttpStatus, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail, type ThrottlerOptions } from '@nestjs/throttler';
import type { LoginThrottleConfig } from '../config/example-config';

/**
 * Two limits on `POST /login`: per client address (one attacker trying many accounts) and per
 * username (many addresses trying one account). Both only for a window: a real user locked out by
 * someone hammering their name gets in again when it ends.
 */
export function loginThrottlers(config: LoginThrottleConfig): ThrottlerOptions[] {
  return [
    { name: 'client', limit: config.perClient, ttl: config.windowMs, blockDuration: config.windowMs },
    {
      name: 'account',
      limit: config.perAccount,
      ttl: config.windowMs,
      blockDuration: config.windowMs,
      // The body is parsed before guards run; anything but a sane string counts as one bucket.
      getTracker: (request: Record<string, unknown>) => {
        const username = (request.body as Record<string, unknown> | undefined)?.username;
        return `account:${typeof username === 'string' ? username.trim().toLowerCase().slice(0, 64) : '?'}`;
      },
    },
  ];
}

/** @nestjs/throttler's guard, answering 429 with a standard `Retry-After` (seconds). */
@Injectable()
export class LoginThrottlerGuard extends ThrottlerGuard {
  protected override throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    // `header()`: Fastify's reply and Express's response both have it.
    const response = context.switchToHttp().getResponse<{ header(name: string, value: string): unknown }>();
    response.header('Retry-After', String(Math.max(1, Math.ceil(detail.timeToBlockExpire))));
    throw new HttpException('Too many login attempts; try again later', HttpStatus.TOO_MANY_REQUESTS);
  }
}

import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { createRequire } from 'node:module';

/*
 * The Fastify session plugins the bench compares with, loaded without their type declarations:
 * @fastify/session and @fastify/secure-session both declare `request.session` on Fastify's request
 * type, with different types, so one compilation cannot import both. The few calls made are
 * typed here instead.
 */
const load = createRequire(__filename);

/** A Fastify plugin function, as `app.register()` takes it. */
export type FastifyPlugin = (instance: unknown, options: Record<string, unknown>) => unknown;

/** `@fastify/cookie`, which both plugins need. */
export const fastifyCookie = (load('@fastify/cookie') as { default: FastifyPlugin }).default;

/** `@fastify/session` (express-session's model on Fastify: an id cookie and a store). */
export const fastifySession = (load('@fastify/session') as { default: FastifyPlugin }).default;

/** `@fastify/secure-session` (the session sealed in the cookie with libsodium). */
export const fastifySecureSession = (load('@fastify/secure-session') as { default: FastifyPlugin }).default;

/** What the bench uses of either plugin's session object (`regenerate`: @fastify/session only). */
export interface FastifyPeerSession {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  regenerate?(): Promise<void>;
}

/** What a Nest app on either Fastify plugin writes by hand: 401 unless signed in. */
@Injectable()
export class FastifyPeerSessionGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ session: FastifyPeerSession }>();
    if (!request.session.get('user')) throw new UnauthorizedException('Authentication required');
    return true;
  }
}

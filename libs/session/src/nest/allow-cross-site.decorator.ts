import { SetMetadata } from '@nestjs/common';
import { ALLOW_CROSS_SITE } from './session.constants';

/**
 * Lets other sites send unsafe requests to a route (or controller) when the `csrf` option is on:
 * for webhooks and public APIs that do not rely on the session cookie.
 */
export const AllowCrossSite = (): MethodDecorator & ClassDecorator => SetMetadata(ALLOW_CROSS_SITE, true);

import { SetMetadata } from '@nestjs/common';
import { PUBLIC_ROUTE } from './session.constants';

/**
 * Opens a route (or a whole controller) to anonymous requests when `SessionGuard` is global
 * (`guard: 'global'`).
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

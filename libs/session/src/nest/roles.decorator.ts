import { SetMetadata } from '@nestjs/common';
import { REQUIRED_ROLES } from './session.constants';

/**
 * Restricts a route (or controller) to signed-in users holding at least one of `roles`
 * (`session.user.roles`). Checked by `SessionGuard`: anonymous gets 401 or the login redirect,
 * a signed-in user without the role gets 403.
 */
export const Roles = (...roles: string[]): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_ROLES, roles);

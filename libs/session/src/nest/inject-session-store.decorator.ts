import { Inject } from '@nestjs/common';
import { SESSION_STORE } from './session.constants';

/**
 * Injects the session store in use (for maintenance jobs, admin tools, health checks).
 * The module must be imported in the injecting module, or registered with `isGlobal: true`.
 */
export const InjectSessionStore = (): PropertyDecorator & ParameterDecorator => Inject(SESSION_STORE);

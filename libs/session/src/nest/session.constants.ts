/** Injection token of the resolved (validated, defaulted) session options. */
export const SESSION_OPTIONS = Symbol('SESSION_OPTIONS');
/** Injection token of the session store in use. */
export const SESSION_STORE = Symbol('SESSION_STORE');
/** Metadata key set by `@Public()`. */
export const PUBLIC_ROUTE = 'session:public';
/** Metadata key set by `@Roles()`. */
export const REQUIRED_ROLES = 'session:roles';
/** Metadata key set by `@AllowCrossSite()`. */
export const ALLOW_CROSS_SITE = 'session:allow-cross-site';

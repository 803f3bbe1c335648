// The public API of the session library. Everything not exported here is internal.

// Nest integration
export { SessionModule } from './nest/session.module';
export type { SessionModuleAsyncOptions, SessionModuleExtras, SessionModuleOptions } from './nest/session.module-definition';
export { resolveSessionModuleOptions, SESSION_MODULE_DEFAULTS } from './nest/session-module-options';
export type { ResolvedSessionModuleOptions, ResolvedSessionModuleSettings, SessionModuleInput as SessionOptions, SessionModuleSettings } from './nest/session-module-options';
export { SessionGuard } from './nest/session.guard';
export { Session } from './nest/session.decorator';
export { Public } from './nest/public.decorator';
export { Roles } from './nest/roles.decorator';
export { AllowCrossSite } from './nest/allow-cross-site.decorator';
export { InjectSessionStore } from './nest/inject-session-store.decorator';
export { LoginRedirectFilter } from './nest/login-redirect.filter';
export { SessionStoreErrorFilter } from './nest/session-store-error.filter';
export { LoginRequiredException, SessionInterruptedException, SessionStoreUnavailableException } from './nest/session.exceptions';
export { SessionMiddleware } from './nest/session.middleware';
export { SESSION_OPTIONS, SESSION_STORE } from './nest/session.constants';
export { SessionStoreHealthIndicator } from './nest/session-store.health';
export type { SessionStoreHealth, SessionStoreHealthOptions } from './nest/session-store.health';

// Core
export { SessionHandle, SessionCookie } from './core/session';
export type { SessionCallback, SessionData, SessionLoginOptions, SessionUser } from './core/session';
export { SessionManager } from './core/session-manager';
export type { DiscardedCookieReason } from './core/session-backend';
export type { SessionManagerDependencies } from './core/session-dependencies';
export type { SessionRequest } from './core/session-request';
export { SessionService } from './core/session-service';
export type { ListSessionsOptions, RevokeAllOptions, RevokeSessionOptions, UserSession } from './core/session-service';
export { SessionEvents } from './core/session-events';
export type { SessionEvent, SessionEventListener, SessionEventPayloads, SessionEventType } from './core/session-events';
export type { SessionDevice } from './core/session-owner';
export { resolveSessionOptions, SESSION_DEFAULTS } from './core/session-options';
// `SessionOptions` is what SessionModule.forRoot() takes: the engine's options and the module's
// settings (guard, csrf, loginPath), which live in nest/; the engine's alone are SessionEngineOptions.
export type { ResolvedSessionOptions, SameSite, SessionCookieOptions, SessionOptions as SessionEngineOptions } from './core/session-options';
export type { SessionOwner, SessionPatch, SessionRecord, SessionStore, StoredSession } from './core/session-store';
export { SessionConfigError, SessionError, SessionInterruptedError, SessionStoreError } from './core/errors';
export type { SessionErrorCode } from './core/errors';
export { safeReturnUrl, MAX_RETURN_URL_LENGTH } from './core/return-url';
export { isCrossSiteRequest } from './core/cross-site-request';
export type { RequestOriginInfo } from './core/cross-site-request';
export { generateSessionId, hashSessionId } from './core/session-id';
export { FLASH_KEY } from './core/flash';
export type { FlashMessages } from './core/flash';

// Stores
export { MemoryStore, MEMORY_STORE_PRODUCTION_WARNING } from './stores/memory.store';
export type { MemoryStoreOptions } from './stores/memory.store';
export { RedisStore } from './stores/redis.store';
export { redisReconnectStrategy } from './stores/redis-reconnect';
export type { RedisStoreClient, RedisStoreOptions } from './stores/redis.store';
export { DEFAULT_POSTGRES_CLEANUP_INTERVAL, POSTGRES_SCHEMA, PostgresStore, renderPostgresSchema } from './stores/postgres.store';
export type { PostgresStoreOptions } from './stores/postgres.store';
export { MemcachedStore } from './stores/memcached.store';
export type { MemcachedStoreOptions } from './stores/memcached.store';
export { MysqlStore } from './stores/mysql.store';
export type { MysqlStoreOptions } from './stores/mysql.store';
export { RedisEndedSessionBroadcast } from './stores/redis-ended-session-broadcast';
export type { RedisBroadcastClient, RedisBroadcastSubscriber, RedisEndedSessionBroadcastOptions } from './stores/redis-ended-session-broadcast';

// Sockets (the adapters themselves are in the nest-session-auth/socket.io and nest-session-auth/ws subpaths)
export type { EndedSessionBroadcast, SessionEndReason } from './core/ended-session-broadcast';
export { SocketSessions } from './nest/sockets/socket-sessions';
export type { SessionSocketSettings } from './nest/session-module-options';
export { AuthenticationRequiredException, CrossSiteRequestException, RoleRequiredException } from './nest/session.exceptions';
export type { SessionErrorExtensions } from './nest/session.exceptions';
export { ExpressSessionStore } from './stores/express-session.store';
export type { ExpressSessionCompatibleStore, ExpressSessionStoreOptions } from './stores/express-session.store';
export { ExpressSessionStoreBase, expressSessionShim } from './stores/express-session-store-base';

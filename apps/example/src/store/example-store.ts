import type { LoggerService } from '@nestjs/common';
import { Client as MemcachedClient } from 'memjs';
import { createPool } from 'mysql2/promise';
import { Pool } from 'pg';
import { createClient, createCluster } from 'redis';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import connectPgSimple from 'connect-pg-simple';
import {
  ExpressSessionStore,
  expressSessionShim,
  type ExpressSessionCompatibleStore,
  MemcachedStore,
  MemoryStore,
  MysqlStore,
  PostgresStore,
  RedisEndedSessionBroadcast,
  RedisStore,
  redisReconnectStrategy,
  type EndedSessionBroadcast,
  type SessionStore,
} from '@app/session';
import type { ExampleStoreConfig } from '../config/example-config';

/** A session store and the clients the example opened for it. */
export interface ExampleStore {
  readonly store: SessionStore;
  /** On Redis: tells every instance when a session ends, so each closes its sockets. */
  readonly broadcast?: EndedSessionBroadcast;
  /** Closes the clients the example opened (the store's own `close()` is called by the module). */
  close(): Promise<void>;
}

/**
 * Opens the store `SESSION_STORE` names. The example owns the clients: it creates them here and
 * closes them on shutdown. SQL tables are created when missing (a real app would use migrations).
 */
export async function openExampleStore(config: ExampleStoreConfig, logger: LoggerService): Promise<ExampleStore> {
  switch (config.kind) {
    case 'memory':
      return { store: new MemoryStore(), close: () => Promise.resolve() };

    case 'redis': {
      if (config.redisClusterNodes.length > 0) return openRedisCluster(config, logger);
      // RESP3 with invalidation messages, for the store's localCache: reads of unchanged sessions
      // are answered from this instance's memory, and Redis tells the client when any instance
      // changes or deletes one (CLIENT TRACKING).
      const client = createClient({
        url: config.redisUrl,
        RESP: 3,
        emitInvalidate: true,
        // Back within a second of Redis's return (see "Recovering from an outage" in the library
        // README): a quiet but healthy connection answers a PING every 200 ms, so 400 ms of
        // silence means it is gone (RedisStore stops writing onto a connection that timed out,
        // so a frozen one does fall silent), and the library's reconnect strategy tries again at
        // once after a timed-out attempt and with a capped, jittered backoff after refusals.
        pingInterval: 200,
        socket: { socketTimeout: 400, connectTimeout: 400, reconnectStrategy: redisReconnectStrategy },
      });
      // node-redis reconnects by itself; without a listener an 'error' event would end the process.
      client.on('error', (error: Error) => {
        logger.warn(`Redis: ${error.message}`);
      });
      await client.connect();
      return {
        store: new RedisStore({ client, prefix: config.keyPrefix, localCache: true }),
        broadcast: new RedisEndedSessionBroadcast({
          client,
          channel: `${config.keyPrefix}ended`,
          onError: (error) => {
            logger.warn(`Redis (ended sessions): ${error.message}`);
          },
        }),
        close: async () => {
          await client.close();
        },
      };
    }

    case 'postgres': {
      const pool = new Pool({ connectionString: config.databaseUrl, connectionTimeoutMillis: 2_000, max: 10 });
      // pg emits 'error' when an idle connection drops; unhandled, it would end the process.
      pool.on('error', (error) => {
        logger.warn(`PostgreSQL: ${error.message}`);
      });
      const store = new PostgresStore({ pool, tableName: config.table });
      await store.createTable();
      return { store, close: () => pool.end() };
    }

    case 'mysql': {
      const pool = createPool({ uri: config.mysqlUrl, connectionLimit: 10, connectTimeout: 2_000 });
      const store = new MysqlStore({ pool, tableName: config.table });
      await store.createTable();
      return { store, close: () => pool.end() };
    }

    case 'connect-redis': {
      // express-session's connect-redis, as an app moving from express-session runs it, through
      // ExpressSessionStore: same Redis, same prefix, its records in express-session's format.
      const client = createClient({ url: config.redisUrl, pingInterval: 1000, socket: { connectTimeout: 1000, reconnectStrategy: redisReconnectStrategy } });
      client.on('error', (error: Error) => {
        logger.warn(`Redis (connect-redis): ${error.message}`);
      });
      await client.connect();
      // Its own prefix: RedisStore keeps a hash under `sess:<key>`, connect-redis a string, and a
      // switch of SESSION_STORE on the same Redis must not read one as the other (WRONGTYPE).
      const inner = new ConnectRedisStore({ client, prefix: `${config.keyPrefix}express-session:` }) as unknown as ExpressSessionCompatibleStore;
      return {
        store: new ExpressSessionStore(inner, {
          onError: (error) => {
            logger.warn(`connect-redis: ${error.message}`);
          },
        }),
        broadcast: new RedisEndedSessionBroadcast({
          client,
          channel: `${config.keyPrefix}ended`,
          onError: (error) => {
            logger.warn(`Redis (ended sessions): ${error.message}`);
          },
        }),
        close: async () => {
          await client.close();
        },
      };
    }

    case 'connect-pg-simple': {
      // express-session's connect-pg-simple (its own "session" table layout) through ExpressSessionStore.
      const pool = new Pool({ connectionString: config.databaseUrl, connectionTimeoutMillis: 2_000, max: 10 });
      pool.on('error', (error) => {
        logger.warn(`PostgreSQL: ${error.message}`);
      });
      const PgStore = connectPgSimple(expressSessionShim as never);
      const inner = new PgStore({
        pool,
        // Its own table: PostgresStore's (SESSION_TABLE) has another layout.
        tableName: `${config.table}_express_session`,
        createTableIfMissing: true,
        errorLog: (...args: unknown[]) => {
          logger.warn(`connect-pg-simple: ${args.map(String).join(' ')}`);
        },
      });
      // The pool is the example's: it closes it (connect-pg-simple ends only pools it made).
      return { store: new ExpressSessionStore(inner, { closeStore: false }), close: () => pool.end() };
    }

    case 'memcached': {
      // retries: 1 (memjs counts attempts): a request the store gave up on is not re-sent later.
      const client = MemcachedClient.create(config.memcachedUrl, { timeout: 0.5, retries: 1, logger: { log: () => undefined } });
      return {
        store: new MemcachedStore({ client, prefix: config.keyPrefix }),
        close: () => {
          client.close();
          return Promise.resolve();
        },
      };
    }

  }
}

/**
 * `REDIS_CLUSTER_NODES`: the Redis store on a Redis Cluster. node-redis finds the other nodes from
 * the ones given and sends each command to the node holding its key; the session keys spread over
 * the cluster (the prefix has no `{...}` hash tag), each user's index sits in one slot. No
 * localCache: the store refuses it on a cluster client, so every read is one round trip.
 */
async function openRedisCluster(config: ExampleStoreConfig, logger: LoggerService): Promise<ExampleStore> {
  const cluster = createCluster({ rootNodes: config.redisClusterNodes.map((node) => ({ url: `redis://${node}` })) });
  cluster.on('error', (error: Error) => {
    logger.warn(`Redis Cluster: ${error.message}`);
  });
  await cluster.connect();
  return {
    store: new RedisStore({ client: cluster, prefix: config.keyPrefix }),
    broadcast: new RedisEndedSessionBroadcast({
      client: cluster,
      channel: `${config.keyPrefix}ended`,
      onError: (error) => {
        logger.warn(`Redis Cluster (ended sessions): ${error.message}`);
      },
    }),
    close: async () => {
      await cluster.close();
    },
  };
}

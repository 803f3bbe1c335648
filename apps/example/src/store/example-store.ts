import type { LoggerService } from '@nestjs/common';
import { Client as MemcachedClient } from 'memjs';
import { createPool } from 'mysql2/promise';
import { Pool } from 'pg';
import { createClient, createCluster } from 'redis';
import { MemcachedStore, MemoryStore, MysqlStore, PostgresStore, RedisStore, type SessionStore } from '@app/session';
import type { ExampleStoreConfig } from '../config/example-config';

/** A session store and the clients the example opened for it. */
export interface ExampleStore {
  readonly store: SessionStore;
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
        // Back within a second of Redis's return after refused connections: the capped, jittered
        // backoff reconnects at once without a fleet of instances reconnecting in step. Not the
        // README's partition options (pingInterval + socketTimeout): with localCache they let a
        // logout on another instance go unseen in 1 of 3 CI runs (see "Recovering from an outage").
        socket: { reconnectStrategy: quickReconnect },
      });
      // node-redis reconnects by itself; without a listener an 'error' event would end the process.
      client.on('error', (error: Error) => {
        logger.warn(`Redis: ${error.message}`, 'SessionStore');
      });
      await client.connect();
      return {
        store: new RedisStore({ client, prefix: config.keyPrefix, localCache: true }),
        close: async () => {
          await client.close();
        },
      };
    }

    case 'postgres': {
      const pool = new Pool({ connectionString: config.databaseUrl, connectionTimeoutMillis: 2_000, max: 10 });
      // pg emits 'error' when an idle connection drops; unhandled, it would end the process.
      pool.on('error', (error) => {
        logger.warn(`PostgreSQL: ${error.message}`, 'SessionStore');
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
 * node-redis's reconnect delay: exponential from 25-50 ms, capped at 250-500 ms with jitter. The
 * default (up to 2 s plus 200 ms) left requests failing for up to a second after Redis was back,
 * and it gives up after a socket timeout, which this set-up relies on.
 */
function quickReconnect(retries: number): number {
  const backoff = Math.min(50 * 2 ** retries, 500);
  return Math.round(backoff / 2 + Math.random() * (backoff / 2));
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
    logger.warn(`Redis Cluster: ${error.message}`, 'SessionStore');
  });
  await cluster.connect();
  return {
    store: new RedisStore({ client: cluster, prefix: config.keyPrefix }),
    close: async () => {
      await cluster.close();
    },
  };
}

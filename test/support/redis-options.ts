import { redisReconnectStrategy } from '@app/session';

/**
 * The node-redis client options RedisStore recommends against partitions (its TSDoc and the
 * library README, "Recovering from an outage"; the example uses the same), connecting to
 * 127.0.0.1:`port`, typically a test's TcpProxy. Spread into `createClient`, beside RESP and
 * the like: a PING every 200 ms keeps a quiet connection alive, 400 ms of silence drops a frozen
 * one (and a hung connect), and `redisReconnectStrategy` reconnects at once after a timeout.
 */
export function partitionReadyRedisOptions(port: number) {
  return {
    socket: { host: '127.0.0.1', port, socketTimeout: 400, connectTimeout: 400, reconnectStrategy: redisReconnectStrategy },
    pingInterval: 200,
  };
}

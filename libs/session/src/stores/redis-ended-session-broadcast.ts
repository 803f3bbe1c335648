import { SessionConfigError } from '../core/errors';
import {
  decodeEndedSession,
  encodeEndedSession,
  type EndedSessionBroadcast,
  type SessionEndReason,
} from '../core/ended-session-broadcast';
import { withOperationTimeout } from './operation-timeout';

/** The connection that listens: a node-redis client in subscriber mode. */
export interface RedisBroadcastSubscriber {
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  /** node-redis 5+ (`quit()` in older versions). */
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** What the broadcast needs of the application's node-redis client (`createClient()` or `createCluster()`). */
export interface RedisBroadcastClient {
  publish(channel: string, message: string): Promise<unknown>;
  /** A second connection like this one, for listening (a subscribed connection cannot run other commands). */
  duplicate(): RedisBroadcastSubscriber;
}

/** Options of {@link RedisEndedSessionBroadcast}. */
export interface RedisEndedSessionBroadcastOptions {
  /** The application's node-redis client; the broadcast publishes on it and listens on a duplicate it opens and closes itself. */
  client: RedisBroadcastClient;
  /**
   * The pub/sub channel. One per application sharing a Redis: another application's messages
   * would cost each instance a lookup (they name other sessions, so they close nothing).
   * @default 'nest-session-auth:ended'
   */
  channel?: string;
  /** Longest time a publish may take (ms); a logout does not wait on it. @default 2000 */
  operationTimeout?: number;
  /** Told of the listening connection's errors (it reconnects by itself). @default console.warn */
  onError?: (error: Error) => void;
}

/**
 * Ended sessions told to every instance over Redis publish/subscribe, so a logout on one
 * instance closes the sockets another holds within milliseconds. Publishes on the application's
 * client; listens on a duplicate connection it opens at boot and closes at shutdown. A message
 * published while an instance's listening connection is down is lost to it (pub/sub keeps
 * nothing): that instance's sockets are closed at their next recheck (`sockets.recheckInterval`).
 *
 * @example
 * SessionModule.forRoot({ secret, store: new RedisStore({ client }), sockets: { broadcast: new RedisEndedSessionBroadcast({ client }) } })
 */
export class RedisEndedSessionBroadcast implements EndedSessionBroadcast {
  readonly #client: RedisBroadcastClient;
  readonly #channel: string;
  readonly #timeout: number;
  readonly #onError: (error: Error) => void;

  constructor(options: RedisEndedSessionBroadcastOptions) {
    const problems: string[] = [];
    const client = options?.client as Partial<RedisBroadcastClient> | undefined;
    if (typeof client?.publish !== 'function' || typeof client.duplicate !== 'function') {
      problems.push('client: must be a node-redis client (createClient() or createCluster() from "redis")');
    }
    const channel = options?.channel ?? 'nest-session-auth:ended';
    if (typeof channel !== 'string' || channel === '') problems.push('channel: must be a non-empty string');
    const timeout = options?.operationTimeout ?? 2000;
    if (!Number.isSafeInteger(timeout) || timeout <= 0) problems.push('operationTimeout: must be a positive whole number of milliseconds');
    if (problems.length > 0) throw new SessionConfigError(problems.map((problem) => `RedisEndedSessionBroadcast ${problem}`));
    this.#client = options.client;
    this.#channel = channel;
    this.#timeout = timeout;
    this.#onError = options.onError ?? ((error) => console.warn(`RedisEndedSessionBroadcast: ${error.message}`));
  }

  async publish(key: string, reason: SessionEndReason): Promise<void> {
    await withOperationTimeout('broadcast publish', this.#timeout, () => this.#client.publish(this.#channel, encodeEndedSession(key, reason)));
  }

  async subscribe(listener: (key: string, reason: SessionEndReason) => void): Promise<() => Promise<void>> {
    const subscriber = this.#client.duplicate();
    subscriber.on('error', (error) => this.#onError(error));
    await subscriber.connect();
    await subscriber.subscribe(this.#channel, (message) => {
      const ended = decodeEndedSession(message);
      if (ended) listener(ended.key, ended.reason);
    });
    return async () => {
      await subscriber.unsubscribe(this.#channel).catch(() => undefined);
      await (subscriber.close ?? subscriber.quit)?.call(subscriber).catch(() => undefined);
    };
  }
}

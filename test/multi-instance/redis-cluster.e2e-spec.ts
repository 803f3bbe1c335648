import { randomBytes } from 'node:crypto';
import { createCluster } from 'redis';
import { RedisStore, SessionStoreError, type SessionRecord } from '@app/session';
import { ExampleConfigError } from '../../apps/example/src/config/example-config';
import { newKey, runStoreContract } from '../stores/store-contract';
import { startRedisCluster, type RedisCluster } from './redis-cluster';
import { Browser, exampleConfig, runName, runSeveralInstancesScenario, startsInstances } from './support';

/**
 * RedisStore and the example app on a real Redis Cluster: three `redis-server` processes in
 * cluster mode, started for this file on free loopback ports and stopped after it (needs
 * `redis-server` and `redis-cli` on the PATH; without them the file fails, saying so).
 */

type Cluster = ReturnType<typeof createCluster>;

let cluster: RedisCluster | undefined;

/** The cluster this file started (beforeAll). */
function theCluster(): RedisCluster {
  if (!cluster) throw new Error('the Redis Cluster did not start (see the beforeAll error)');
  return cluster;
}

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 45_000);

afterAll(async () => {
  await cluster?.stop();
}, 20_000);

/** A connected cluster client, as an application creates it. */
async function connectedCluster(options: { RESP?: 2 | 3 } = {}): Promise<Cluster> {
  const client = createCluster({ rootNodes: theCluster().urls.map((url) => ({ url })), ...options });
  // An application logs these; the tests check the store's answers instead.
  client.on('error', () => undefined);
  await client.connect();
  return client as Cluster;
}

function record(userId?: string): SessionRecord {
  const now = Date.now();
  return {
    data: { visits: 1 },
    createdAt: now,
    touchedAt: now,
    expiresAt: now + 60_000,
    ...(userId === undefined ? {} : { owner: { userId, endsBy: now + 3_600_000 } }),
  };
}

/** The port of the master holding `key`'s slot. */
async function nodeOf(client: Cluster, key: string): Promise<number> {
  const slot = await slotOf(client, key);
  return client.getSlotMaster(slot).port;
}

async function slotOf(client: Cluster, key: string): Promise<number> {
  const any = await client.nodeClient(client.masters[0]);
  return any.clusterKeySlot(key);
}

/** How many keys under `prefix` each master holds, by port. */
async function keysPerNode(client: Cluster, prefix: string): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const master of client.masters) {
    const node = await client.nodeClient(master);
    let count = 0;
    for await (const keys of node.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) count += keys.length;
    counts.set(master.port, count);
  }
  return counts;
}

describe('the test cluster', () => {
  it('has three masters sharing the 16384 slots', async () => {
    const client = await connectedCluster();
    try {
      expect(client.masters.map((master) => master.port).sort()).toEqual([...theCluster().ports].sort());
      const info = await (await client.nodeClient(client.masters[0])).clusterInfo();
      expect(info).toMatch(/cluster_state:ok/);
      expect(info).toMatch(/cluster_slots_assigned:16384/);
    } finally {
      await client.close();
    }
  });
});

describe.each([2, 3] as const)('RedisStore on a Redis Cluster client (RESP%s) honours the store contract', (RESP) => {
  let client: Cluster;
  runStoreContract({
    create: async () => {
      client = await connectedCluster({ RESP });
      return new RedisStore({ client, prefix: `contract${RESP}:` });
    },
    // The cluster, and every key in it, goes at the end of the file.
    cleanup: async (store) => {
      await store.close?.();
      await client.close();
    },
  });
});

describe('RedisStore on a Redis Cluster', () => {
  let client: Cluster;

  beforeAll(async () => {
    client = await connectedCluster();
  });

  afterAll(async () => {
    await client?.close();
  });

  it('spreads the sessions over the nodes, and keeps each user index in one slot', async () => {
    const prefix = 'spread:';
    const store = new RedisStore({ client, prefix });
    const userId = `alice-${randomBytes(4).toString('hex')}`;
    const keys = Array.from({ length: 60 }, () => newKey());
    await Promise.all(keys.map((key) => store.set(key, record(userId))));

    const slots = new Set(await Promise.all(keys.map((key) => slotOf(client, `${prefix}${key}`))));
    expect(slots.size).toBeGreaterThan(50);
    const perNode = await keysPerNode(client, prefix);
    // 60 session hashes and one index: every node holds some (a miss has odds of about 1e-10).
    expect([...perNode.values()].reduce((sum, count) => sum + count, 0)).toBe(61);
    for (const [port, count] of perNode) expect({ port, hasKeys: count > 0 }).toEqual({ port, hasKeys: true });

    const indexKey = `${prefix}user:{${Buffer.from(userId, 'utf8').toString('base64url')}}`;
    await expect(slotOf(client, indexKey)).resolves.toBe(await slotOf(client, Buffer.from(userId, 'utf8').toString('base64url')));
    const listed = await store.listByUser(userId);
    expect(listed.map((entry) => entry.key).sort()).toEqual([...keys].sort());
  });

  it('(a documented negative) a prefix with a {hash tag} puts every session in one slot', async () => {
    const prefix = '{tagged}:';
    const store = new RedisStore({ client, prefix });
    const keys = Array.from({ length: 20 }, () => newKey());
    await Promise.all(keys.map((key) => store.set(key, record())));
    const slots = new Set(await Promise.all(keys.map((key) => slotOf(client, `${prefix}${key}`))));
    expect(slots.size).toBe(1);
    const perNode = [...(await keysPerNode(client, prefix)).values()];
    expect(perNode.filter((count) => count > 0)).toEqual([20]);
  });

  it('refuses localCache on a cluster client, saying so', () => {
    expect(() => new RedisStore({ client, localCache: true })).toThrow(
      /RedisStore localCache: not supported with a Redis Cluster client \(createCluster\(\)\)/,
    );
  });

  it('a node that stops answering fails only its own sessions, within operationTimeout, until it is back', async () => {
    const store = new RedisStore({ client, prefix: 'paused:', operationTimeout: 300 });
    const keys = Array.from({ length: 30 }, () => newKey());
    await Promise.all(keys.map((key) => store.set(key, record())));
    const nodes = await Promise.all(keys.map((key) => nodeOf(client, `paused:${key}`)));
    const paused = theCluster().ports[0];
    const onPaused = keys.find((_, index) => nodes[index] === paused)!;
    const elsewhere = keys.find((_, index) => nodes[index] !== paused)!;
    expect(onPaused).toBeDefined();
    expect(elsewhere).toBeDefined();

    theCluster().pause(paused);
    try {
      const started = Date.now();
      await expect(store.get(onPaused)).rejects.toThrow(SessionStoreError);
      expect(Date.now() - started).toBeLessThan(2_000);
      await expect(store.get(elsewhere)).resolves.toMatchObject({ data: { visits: 1 } });
    } finally {
      theCluster().resume(paused);
    }
    await expect(store.get(onPaused)).resolves.toMatchObject({ data: { visits: 1 } });
  });
});

describe('the example config for a cluster (REDIS_CLUSTER_NODES)', () => {
  it('reads a comma-separated host:port list', () => {
    const config = exampleConfig({ SESSION_STORE: 'redis', REDIS_CLUSTER_NODES: ' 127.0.0.1:7001, redis-a.internal:7002,[::1]:7003 ' });
    expect(config.store.redisClusterNodes).toEqual(['127.0.0.1:7001', 'redis-a.internal:7002', '[::1]:7003']);
    expect(exampleConfig({ SESSION_STORE: 'redis' }).store.redisClusterNodes).toEqual([]);
  });

  it.each(['127.0.0.1', '127.0.0.1:7001,', 'redis://127.0.0.1:7001', '127.0.0.1:99999'])('refuses %j', (value) => {
    expect(() => exampleConfig({ SESSION_STORE: 'redis', REDIS_CLUSTER_NODES: value })).toThrow(ExampleConfigError);
    expect(() => exampleConfig({ SESSION_STORE: 'redis', REDIS_CLUSTER_NODES: value })).toThrow(/REDIS_CLUSTER_NODES: must be a comma-separated list of host:port/);
  });
});

describe('several example instances sharing the Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  const prefix = `${runName('mi_cluster')}:`;
  // The cluster and its keys go with it at the end of the file.
  const instances = startsInstances(() => {
    const config = exampleConfig({ SESSION_STORE: 'redis', REDIS_CLUSTER_NODES: theCluster().nodes.join(','), SESSION_KEY_PREFIX: prefix });
    expect(config.store.redisClusterNodes).toEqual(theCluster().nodes);
    return config;
  });

  runSeveralInstancesScenario(instances);

  it("the example's sessions are spread over the nodes of the cluster", async () => {
    // 20 sessions signed in on the three instances: all on one node has odds of about 1e-9.
    // (That every node gets some is shown with 60 sessions above.)
    for (let index = 0; index < 20; index++) await new Browser(`spread-${index}`).login(instances()[index % 3]);
    const client = await connectedCluster();
    try {
      const perNode = await keysPerNode(client, prefix);
      expect([...perNode.values()].filter((count) => count > 0).length).toBeGreaterThanOrEqual(2);
    } finally {
      await client.close();
    }
  });
});

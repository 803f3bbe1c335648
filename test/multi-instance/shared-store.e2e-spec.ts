import { createClient } from 'redis';
import { hashSessionId } from '@app/session';
import { sessionIdOf } from '../support/cookies';
import { describeWithService } from '../support/services';
import {
  Browser,
  deleteRedisKeys,
  dropMysqlTable,
  dropPostgresTable,
  exampleConfig,
  runName,
  runSeveralInstancesScenario,
  startsInstances,
} from './support';

/**
 * Three instances of the example app sharing one store, talked to over real HTTP on their own
 * ports: a user can be sent to any instance on any request (no sticky sessions). On Redis each
 * instance also keeps the sessions it read in its own memory (the example's `localCache`), so
 * these tests also show Redis's invalidation reaching every instance before the next request.
 */

describeWithService('redis')('several example instances sharing one Redis (localCache on each)', () => {
  const prefix = `${runName('mi_redis')}:`;
  const config = exampleConfig({ SESSION_STORE: 'redis', SESSION_KEY_PREFIX: prefix });
  const instances = startsInstances(config, () => deleteRedisKeys(config.store.redisUrl, prefix));

  it("runs three instances on their own ports, sharing Redis under this run's prefix", () => {
    expect(config.store).toMatchObject({ mode: 'redis', kind: 'redis', keyPrefix: prefix, redisClusterNodes: [] });
    expect(new Set(instances().map((instance) => instance.url)).size).toBe(3);
  });

  it('B and C answer repeated reads from their own memory, and still see a logout on A at once', async () => {
    const [a, b, c] = instances();
    const browser = new Browser('cached');
    await browser.login(a);
    const sessionKey = `${prefix}${hashSessionId(sessionIdOf(browser.cookie!))}`;
    // Every command Redis runs, to count the reads of this session's hash.
    const monitor = createClient({ url: config.store.redisUrl });
    monitor.on('error', () => undefined);
    await monitor.connect();
    const seen: string[] = [];
    try {
      await monitor.monitor((line) => {
        if (String(line).includes(sessionKey)) seen.push(String(line));
      });
      for (let round = 0; round < 10; round++) {
        await browser.shouldBeSignedInOn(b);
        await browser.shouldBeSignedInOn(c);
      }
      // MONITOR lines arrive on their own connection: a marker command, once seen, means every
      // command sent before it has been reported.
      const marker = createClient({ url: config.store.redisUrl });
      marker.on('error', () => undefined);
      await marker.connect();
      const markerKey = `${sessionKey}:marker`;
      await marker.exists(markerKey);
      await marker.close();
      const deadline = Date.now() + 5_000;
      while (!seen.some((line) => line.includes(markerKey))) {
        if (Date.now() > deadline) throw new Error('MONITOR did not report the marker command within 5 s');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await monitor.close();
    }
    const reads = seen.filter((line) => /"hgetall"/i.test(line));
    // 20 requests, at most one read per instance: the others came from B's and C's memory.
    expect(reads.length).toBeGreaterThanOrEqual(1);
    expect(reads.length).toBeLessThanOrEqual(2);

    const replay = browser.copy();
    await browser.logout(a);
    await replay.shouldBeAnonymousOn(b);
    await replay.shouldBeAnonymousOn(c);
  });

  runSeveralInstancesScenario(instances);
});

describeWithService('postgres')('several example instances sharing one PostgreSQL table', () => {
  const table = runName('mi_pg');
  const config = exampleConfig({ SESSION_STORE: 'postgres', SESSION_TABLE: table });
  const instances = startsInstances(config, () => dropPostgresTable(config.store.databaseUrl, table));

  runSeveralInstancesScenario(instances);
});

describeWithService('mysql')('several example instances sharing one MariaDB/MySQL table', () => {
  const table = runName('mi_mysql');
  const config = exampleConfig({ SESSION_STORE: 'mysql', SESSION_TABLE: table });
  const instances = startsInstances(config, () => dropMysqlTable(config.store.mysqlUrl, table));

  runSeveralInstancesScenario(instances);
});

describeWithService('memcached')('several example instances sharing one memcached (no per-user listing)', () => {
  // memcached cannot list keys to delete: the entries left behind expire with their sessions.
  const config = exampleConfig({ SESSION_STORE: 'memcached', SESSION_KEY_PREFIX: `${runName('mi_memcached')}:` });
  const instances = startsInstances(config);

  runSeveralInstancesScenario(instances, { listsSessions: false });
});

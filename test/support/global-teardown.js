// Jest global teardown: drops what the example e2e suites created in real stores (tables and keys
// named example_e2e_<pid>). Store-specific suites clean up after themselves; this covers the
// example app, whose clients are closed by the app before a test could drop anything. memcached
// cannot list keys: the example's entries there expire with their sessions.
// Only this run's names (see global-setup.js): a concurrent run on the same machine is left alone.
const PREFIX = `example_e2e_${process.env.EXAMPLE_E2E_RUN ?? 'local'}_`;

async function cleanPostgres() {
  const { Pool } = require('pg');
  const pool = new Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', connectionTimeoutMillis: 2000 });
  try {
    const { rows } = await pool.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE $1", [`${PREFIX}%`]);
    for (const { tablename } of rows) await pool.query(`DROP TABLE IF EXISTS "${tablename}"`);
  } finally {
    await pool.end();
  }
}

async function cleanMysql() {
  const mysql = require('mysql2/promise');
  const connection = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test', connectTimeout: 2000 });
  try {
    const [rows] = await connection.query('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?', [`${PREFIX}%`]);
    for (const { name } of rows) await connection.query(`DROP TABLE IF EXISTS \`${name}\``);
  } finally {
    await connection.end();
  }
}

async function cleanRedis() {
  const { createClient } = require('redis');
  const client = createClient({ url: 'redis://127.0.0.1:6379', socket: { connectTimeout: 2000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.del(keys);
    }
  } finally {
    await client.close();
  }
}

module.exports = async function globalTeardown() {
  const up = (process.env.TEST_SERVICES_UP ?? '').split(',');
  const cleaners = { postgres: cleanPostgres, mysql: cleanMysql, redis: cleanRedis };
  for (const [service, clean] of Object.entries(cleaners)) {
    if (!up.includes(service)) continue;
    try {
      await clean();
    } catch (error) {
      console.warn(`[teardown] could not clean ${service}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
};

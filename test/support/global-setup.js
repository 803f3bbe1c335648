// Jest global setup: finds which of the real servers the store suites need are up on 127.0.0.1.
// Without CI a missing server skips its suites (one line each); with CI=true it fails the run,
// since .ci/run starts every server first.
const { connect } = require('node:net');

const SERVICES = { redis: 6379, postgres: 5432, mysql: 3306, memcached: 11211 };

function isListening(port) {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (up) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

module.exports = async function globalSetup() {
  // Names the tables and keys this run's example suites create, so the teardown removes only
  // those (another run on the same machine keeps its own).
  process.env.EXAMPLE_E2E_RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const up = [];
  const down = [];
  for (const [name, port] of Object.entries(SERVICES)) ((await isListening(port)) ? up : down).push(`${name}:${port}`);
  process.env.TEST_SERVICES_UP = up.map((entry) => entry.split(':')[0]).join(',');
  if (down.length > 0) {
    const message = `store servers not reachable on 127.0.0.1: ${down.join(', ')}`;
    if (process.env.CI === 'true' || process.env.CI === '1') {
      throw new Error(`${message}. With CI=true every server must be up (.ci/run starts them).`);
    }
    console.warn(`\n[store suites] ${message}: their suites are skipped (set CI=true to fail instead).`);
  }
};

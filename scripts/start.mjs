// `npm start`: builds the example app when its build is missing or older than the sources, then
// runs it in this process (so Ctrl-C and signals reach it directly).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');
const entry = join(root, 'dist/apps/example/apps/example/src/main.js');
const sources = ['apps/example/src', 'libs/session/src', 'tsconfig.json', 'apps/example/tsconfig.app.json'];

function newestChange(path) {
  const stats = statSync(path);
  if (!stats.isDirectory()) return path.endsWith('.spec.ts') ? 0 : stats.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestChange(join(path, name))));
}

const stale = !existsSync(entry) || sources.some((source) => newestChange(join(root, source)) > statSync(entry).mtimeMs);
if (stale) {
  console.log('npm start: building the example app (nest build example)...');
  const build = spawnSync(process.execPath, [join(root, 'node_modules/@nestjs/cli/bin/nest.js'), 'build', 'example'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
await import(pathToFileURL(entry).href);

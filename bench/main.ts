/**
 * `npm run bench`: the HTTP benchmark (every variant × route), the micro-benchmark of the core
 * functions and the memory-store benchmark, in one run; prints Markdown and writes
 * bench/results.json.
 *
 *   npm run bench -- [--only=http,micro,memory] [--variants=none,ours-memory,...] [--out=file]
 *
 * Longer, steadier runs: BENCH_DURATION (s per run, 2), BENCH_RUNS (5), BENCH_WARMUP (s, 1),
 * BENCH_CONNECTIONS (16), BENCH_MICRO_TIME (ms per micro case, 1000), BENCH_MEMORY_COUNTS.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runHttpBench } from './http';
import { loadSettingsFromEnv } from './load';
import { describeMachine } from './machine';
import { memoryCountsFromEnv, runMemoryBench } from './memory';
import { runMicroBench } from './micro';
import { renderMarkdown, type BenchResults } from './report';
import { evaluateTargets } from './targets';

type Section = 'http' | 'micro' | 'memory';
const SECTIONS: readonly Section[] = ['http', 'micro', 'memory'];

function option(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((argument) => argument.startsWith(prefix))?.slice(prefix.length);
}

function list(name: string): string[] | undefined {
  const raw = option(name);
  return raw === undefined ? undefined : raw.split(',').map((part) => part.trim()).filter(Boolean);
}

async function main(): Promise<void> {
  const started = Date.now();
  const sections = (list('only') ?? SECTIONS) as Section[];
  const unknown = sections.filter((section) => !SECTIONS.includes(section));
  if (unknown.length > 0) throw new Error(`--only: unknown section(s) ${unknown.join(', ')} (known: ${SECTIONS.join(', ')})`);
  const settings = loadSettingsFromEnv();
  const log = (line: string): void => console.log(line);

  let results: BenchResults = { date: new Date().toISOString(), machine: describeMachine() };
  if (sections.includes('http')) {
    log('HTTP benchmark (variant, route, median req/s, p99)');
    const http = await runHttpBench(settings, list('variants'), log);
    results = { ...results, http, targets: evaluateTargets(http) };
  }
  if (sections.includes('micro')) {
    log('Micro-benchmark of the core functions');
    const time = process.env.BENCH_MICRO_TIME === undefined ? undefined : Number(process.env.BENCH_MICRO_TIME);
    results = { ...results, micro: await runMicroBench(time === undefined ? {} : { time }) };
  }
  if (sections.includes('memory')) {
    log('Memory store: heap per session and GET /me as the store grows');
    results = { ...results, memory: await runMemoryBench(memoryCountsFromEnv(), settings, log) };
  }
  results = { ...results, durationSeconds: Math.round((Date.now() - started) / 1000) };

  const out = option('out') ?? join(__dirname, '..', '..', 'results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  log('');
  log(renderMarkdown(results));
  log('');
  log(`Written to ${out} in ${results.durationSeconds} s.`);
  const missed = results.targets?.filter((target) => target.met === false) ?? [];
  if (missed.length > 0) log(`Targets missed: ${missed.map((t) => `${t.variant} vs ${t.other} ${t.route}`).join('; ')}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});

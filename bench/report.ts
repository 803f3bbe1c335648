import type { HttpResult } from './http';
import { ROUTES } from './http';
import type { MachineInfo } from './machine';
import type { MemoryResult } from './memory';
import type { MicroResult } from './micro';
import type { TargetOutcome } from './targets';
import { VARIANTS } from './variants';

/** Everything one `npm run bench` measured, as written to bench/results.json. */
export interface BenchResults {
  readonly date: string;
  readonly machine: MachineInfo;
  readonly durationSeconds?: number;
  readonly http?: HttpResult;
  readonly targets?: TargetOutcome[];
  readonly micro?: MicroResult;
  readonly memory?: MemoryResult;
}

const integer = (value: number): string => Math.round(value).toLocaleString('en-US');
const times = (value: number | undefined): string => (value === undefined ? '' : `${value.toFixed(2)}×`);

/** The results as Markdown, the form the README shows. */
export function renderMarkdown(results: BenchResults): string {
  const lines: string[] = [];
  const { machine } = results;
  lines.push(
    `Measured ${results.date.slice(0, 10)} on ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}.`,
  );
  if (results.http) {
    const { settings } = results.http;
    lines.push(
      `Load: autocannon, ${settings.connections} connections, ${settings.warmupSeconds} s warm-up then the median of ${settings.runs} runs of ${settings.runSeconds} s per cell; ` +
        'the apps and autocannon run as separate processes on the same cores (no pinning).',
      '',
      `| Variant | ${ROUTES.map((route) => `${route} req/s (p99)`).join(' | ')} | GET /me server CPU per request | GET /me × ceiling | GET /me × peer | POST /visits × peer |`,
      `|---|${ROUTES.map(() => '--:').join('|')}|--:|--:|--:|--:|`,
    );
    for (const variant of VARIANTS) {
      const cells = results.http.cells.filter((cell) => cell.variant === variant.id);
      if (cells.length === 0) continue;
      const byRoute = (route: string) => cells.find((cell) => cell.route === route);
      const me = byRoute('GET /me');
      const visits = byRoute('POST /visits');
      const peerLabel = variant.peer ? ` (vs ${variant.peer})` : '';
      lines.push(
        `| ${variant.label}${peerLabel} | ${ROUTES.map((route) => {
          const cell = byRoute(route);
          return cell ? `${integer(cell.requestsPerSecond)} (${cell.p99Ms} ms)` : '';
        }).join(' | ')} | ${me?.cpuMicrosPerRequest === undefined ? '' : `${integer(me.cpuMicrosPerRequest)} µs`} | ${times(me?.vsCeiling)} | ${times(me?.vsPeer)} | ${times(visits?.vsPeer)} |`,
      );
    }
    for (const skipped of results.http.skipped) lines.push(``, `Skipped ${skipped.variant}: ${skipped.reason}.`);
  }
  if (results.targets) {
    lines.push('', '| Target (GET /me unless said) | Ratio | Needed | Met |', '|---|--:|--:|:-:|');
    for (const target of results.targets) {
      const route = target.route === 'GET /me' ? '' : ` (${target.route})`;
      lines.push(
        `| ${target.variant} vs ${target.other}${route}: ${target.description} | ${times(target.ratio)} | ${times(target.atLeast)} | ${
          target.met === undefined ? 'not run' : target.met ? 'yes' : '**no**'
        } |`,
      );
    }
  }
  if (results.micro) {
    lines.push('', '| Micro-benchmark | Implementation | ops/s | vs ours |', '|---|---|--:|--:|');
    for (const group of results.micro.groups) {
      const ours = group.cases.find((c) => c.library === 'ours');
      for (const entry of group.cases) {
        const versus = ours && entry.library !== 'ours' ? `${(ours.opsPerSecond / entry.opsPerSecond).toFixed(2)}× faster` : '';
        lines.push(`| ${group.group} | ${entry.name} | ${integer(entry.opsPerSecond)} | ${versus} |`);
      }
    }
  }
  if (results.memory) {
    lines.push('', '| Sessions in the memory store | Heap per session | Heap used | GET /me req/s (p99) |', '|--:|--:|--:|--:|');
    for (const point of results.memory.points) {
      lines.push(
        `| ${integer(point.sessions)} | ${integer(point.bytesPerSession)} B | ${integer(point.heapMiB)} MiB | ${integer(point.meRequestsPerSecond)} (${point.meP99Ms} ms) |`,
      );
    }
    if (results.memory.flatness !== undefined) {
      lines.push('', `GET /me at the largest store relative to the smallest: ${times(results.memory.flatness)}.`);
    }
  }
  return lines.join('\n');
}

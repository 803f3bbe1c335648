/**
 * Starts one bench variant on 127.0.0.1 (an ephemeral port) in its own process, so each app has
 * a core to itself while autocannon runs in the parent. Reports `{ ready, port }` over IPC and
 * stops, cleaning up its tables and keys, on `{ stop: true }` (or when the parent goes away).
 *
 *   node bench/dist/bench/server.js <variant> [--prefill=N]
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCookieSessionApp } from './apps/cookie-session.app';
import { createExpressSessionApp } from './apps/express-session.app';
import { createFastifySecureSessionApp, createFastifySessionApp } from './apps/fastify-peers.app';
import { createIronSessionApp } from './apps/iron-session.app';
import { createNoSessionApp } from './apps/none.app';
import { createOursApp } from './apps/ours.app';
import { prefillMemoryStore } from './prefill';
import { findVariant } from './variants';

export type ServerMessage =
  | { ready: true; port: number; heap?: { before: number; after: number; sessions: number } }
  | { error: string }
  | { cpuMicros: number };

async function createApp(id: string, prefill: number): Promise<{ app: INestApplication; cleanup: () => Promise<void>; heap?: ServerMessage }> {
  findVariant(id);
  switch (id) {
    case 'none':
      return createNoSessionApp();
    case 'ours-memory': {
      let heap: { before: number; after: number; sessions: number } | undefined;
      const created = await createOursApp('memory', {
        maxSessions: Math.max(100_000, prefill + 10_000),
        prefill: prefill > 0 ? async (store) => void (heap = await prefillMemoryStore(store, prefill)) : undefined,
      });
      return { ...created, heap: heap ? { ready: true, port: 0, heap } : undefined };
    }
    case 'ours-redis':
      return createOursApp('redis');
    case 'ours-redis-nocache':
      return createOursApp('redis-nocache');
    case 'ours-postgres':
      return createOursApp('postgres');
    case 'ours-cookie':
      return createOursApp('cookie');
    case 'express-session-memory':
      return createExpressSessionApp('memory');
    case 'express-session-redis':
      return createExpressSessionApp('redis');
    case 'express-session-postgres':
      return createExpressSessionApp('postgres');
    case 'cookie-session':
      return createCookieSessionApp();
    case 'iron-session':
      return createIronSessionApp();
    case 'fastify-none':
      return createNoSessionApp('fastify');
    case 'fastify-ours-memory':
      return createOursApp('memory', {}, 'fastify');
    case 'fastify-ours-redis':
      return createOursApp('redis', {}, 'fastify');
    case 'fastify-ours-cookie':
      return createOursApp('cookie', {}, 'fastify');
    case 'fastify-session-memory':
      return createFastifySessionApp('memory');
    case 'fastify-session-redis':
      return createFastifySessionApp('redis');
    case 'fastify-secure-session':
      return createFastifySecureSessionApp();
    default:
      throw new Error(`No app for variant "${id}"`);
  }
}

async function main(): Promise<void> {
  const id = process.argv[2] ?? '';
  const prefillArgument = process.argv.find((argument) => argument.startsWith('--prefill='));
  const prefill = prefillArgument ? Number(prefillArgument.slice('--prefill='.length)) : 0;
  const { app, cleanup, heap } = await createApp(id, prefill);
  await app.listen(0, '127.0.0.1');
  const port = ((app.getHttpServer() as Server).address() as AddressInfo).port;

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await app.close();
    await cleanup();
    process.exit(0);
  };
  process.on('message', (message: { stop?: boolean; cpu?: boolean }) => {
    if (message.stop) void stop();
    // CPU time this process has used: per request, it is steadier than throughput on a shared machine.
    if (message.cpu) {
      const usage = process.cpuUsage();
      process.send?.({ cpuMicros: usage.user + usage.system } satisfies ServerMessage);
    }
  });
  process.on('disconnect', () => void stop());
  const ready: ServerMessage = { ready: true, port, ...(heap && 'heap' in heap ? { heap: heap.heap } : {}) };
  process.send?.(ready);
}

main().catch((error: unknown) => {
  process.send?.({ error: error instanceof Error ? error.message : String(error) } satisfies ServerMessage);
  process.exit(1);
});

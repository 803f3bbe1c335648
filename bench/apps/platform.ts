import type { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';

/** The Nest HTTP platform a bench variant runs on. */
export type BenchPlatform = 'express' | 'fastify';

/** A fresh adapter for `NestFactory.create(module, adapter, options)`. */
export function httpAdapterFor(platform: BenchPlatform): AbstractHttpAdapter {
  return platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
}

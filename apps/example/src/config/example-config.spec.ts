import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { DEMO_SESSION_SECRET, ExampleConfigError, loadExampleConfig, type ExampleConfig } from './example-config';

describe('loadExampleConfig (the ConfigModule validate function)', () => {
  it('starts with no set-up: the memory store, port 3000, the demo secret outside production', () => {
    const config = loadExampleConfig({});
    expect(config.http).toEqual({ platform: 'express', port: 3000, trustProxy: false });
    expect(config.session).toEqual({ secrets: [DEMO_SESSION_SECRET], production: false });
    expect(config.store).toMatchObject({ mode: 'memory', kind: 'memory', table: 'sessions', keyPrefix: 'sess:' });
    expect(config.loginThrottle).toEqual({ perAccount: 5, perClient: 20, windowMs: 60_000 });
  });

  it('reads every variable it documents', () => {
    const config = loadExampleConfig({
      HTTP_PLATFORM: 'fastify',
      PORT: '8080',
      TRUST_PROXY: 'yes',
      NODE_ENV: 'production',
      SESSION_SECRET: 'newest-secret-0123456789abcdefghijklmnopqrst  older-secret-0123456789abcdefghijklmnopqrst',
      SESSION_STORE: 'cookie',
      REVOCATION_STORE: 'postgres',
      DATABASE_URL: 'postgres://app@db:5432/app',
      SESSION_TABLE: 'app_sessions',
      LOGIN_ATTEMPTS_PER_ACCOUNT: '3',
      LOGIN_ATTEMPTS_PER_CLIENT: '9',
      LOGIN_ATTEMPT_WINDOW: '1000',
    });
    expect(config.http).toEqual({ platform: 'fastify', port: 8080, trustProxy: true });
    expect(config.session).toEqual({
      secrets: ['newest-secret-0123456789abcdefghijklmnopqrst', 'older-secret-0123456789abcdefghijklmnopqrst'],
      production: true,
    });
    expect(config.store).toMatchObject({ mode: 'cookie', kind: 'postgres', databaseUrl: 'postgres://app@db:5432/app', table: 'app_sessions' });
    expect(config.loginThrottle).toEqual({ perAccount: 3, perClient: 9, windowMs: 1000 });
  });

  it('lists every problem at once, so a deployment is fixed in one round', () => {
    let thrown: unknown;
    try {
      loadExampleConfig({
        PORT: '70000',
        NODE_ENV: 'production',
        HTTP_PLATFORM: 'koa',
        TRUST_PROXY: 'maybe',
        SESSION_STORE: 'mongodb',
        SESSION_TABLE: 'drop table;',
        LOGIN_ATTEMPT_WINDOW: '0',
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ExampleConfigError);
    const { problems, message } = thrown as ExampleConfigError;
    expect(problems.map((problem) => problem.split(':')[0])).toEqual([
      'PORT',
      'SESSION_SECRET',
      'HTTP_PLATFORM',
      'TRUST_PROXY',
      'SESSION_STORE',
      'SESSION_TABLE',
      'LOGIN_ATTEMPT_WINDOW',
    ]);
    for (const problem of problems) expect(message).toContain(`  - ${problem}`);
    // What Nest logs when the app fails to start: the list, no stack trace to dig it out of.
    expect((thrown as Error).stack).toBe(`ExampleConfigError: ${message}`);
  });

  it('refuses the public demo secret in production, naming the fix', () => {
    expect(() => loadExampleConfig({ NODE_ENV: 'production' })).toThrow(/SESSION_SECRET: .*openssl rand/);
    expect(() => loadExampleConfig({ NODE_ENV: 'production', SESSION_SECRET: DEMO_SESSION_SECRET })).toThrow(ExampleConfigError);
  });
});

describe('ConfigModule.forRoot with loadExampleConfig', () => {
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'example-config-'));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  /** A ConfigService built the way the example builds it, from a `.env` file alone. */
  async function configFromEnvFile(lines: string): Promise<ConfigService<ExampleConfig, true>> {
    const envFilePath = join(directory, `${Math.random().toString(36).slice(2)}.env`);
    await writeFile(envFilePath, lines);
    @Module({ imports: [ConfigModule.forRoot({ envFilePath, ignoreEnvVars: true, validate: loadExampleConfig })] })
    class ConfiguredModule {}
    const moduleRef = await Test.createTestingModule({ imports: [ConfiguredModule] }).compile();
    return moduleRef.get(ConfigService);
  }

  it('hands the typed, validated configuration to ConfigService', async () => {
    const config = await configFromEnvFile('PORT=4000\nSESSION_STORE=redis\n');
    expect(config.get('http', { infer: true }).port).toBe(4000);
    expect(config.get('store', { infer: true }).kind).toBe('redis');
  });

  it('fails the boot with the whole list', async () => {
    await expect(configFromEnvFile('PORT=x\nSESSION_STORE=y\n')).rejects.toThrow(/PORT: .*\n.*SESSION_STORE: /);
  });
});

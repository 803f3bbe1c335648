/** Configuration of the example app, read from the environment once at start. */
export interface ExampleConfig {
  readonly port: number;
  /** Session secrets, newest first. */
  readonly sessionSecrets: readonly string[];
  readonly trustProxy: boolean;
  readonly production: boolean;
}

/**
 * DEMO-ONLY secret so the example starts with no set-up. It is public (it is in this repository),
 * so anyone could forge cookies for an app using it: `loadExampleConfig` refuses it when
 * NODE_ENV=production.
 */
export const DEMO_SESSION_SECRET = 'demo-only-secret-never-use-in-production-0123456789abcdef';

/** Thrown when the environment is invalid; lists every problem. */
export class ExampleConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid environment:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ExampleConfigError';
  }
}

/**
 * Reads `PORT` (default 3000), `SESSION_SECRET` (one or more secrets separated by spaces, newest
 * first; a demo default outside production) and `TRUST_PROXY` (true/false, default false).
 */
export function loadExampleConfig(env: NodeJS.ProcessEnv = process.env): ExampleConfig {
  const problems: string[] = [];
  const production = env.NODE_ENV === 'production';

  const rawPort = env.PORT?.trim() || '3000';
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port < 0 || port > 65535) {
    problems.push(`PORT: must be a port number between 0 and 65535 (got "${rawPort}")`);
  }

  const rawSecret = env.SESSION_SECRET?.trim();
  const sessionSecrets = rawSecret ? rawSecret.split(/\s+/) : [DEMO_SESSION_SECRET];
  if (production && sessionSecrets.includes(DEMO_SESSION_SECRET)) {
    problems.push(
      'SESSION_SECRET: the demo secret is public and refused when NODE_ENV=production; ' +
        'set SESSION_SECRET to a random value of at least 32 bytes (e.g. `openssl rand -base64 48`)',
    );
  }

  const rawTrustProxy = (env.TRUST_PROXY ?? 'false').trim().toLowerCase();
  const trustProxy = ['1', 'true', 'yes'].includes(rawTrustProxy);
  if (!trustProxy && !['0', 'false', 'no', ''].includes(rawTrustProxy)) {
    problems.push(`TRUST_PROXY: must be true or false (got "${env.TRUST_PROXY}")`);
  }

  if (problems.length > 0) throw new ExampleConfigError(problems);
  return { port, sessionSecrets, trustProxy, production };
}

import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { ServerMessage } from './server';

/** A bench app running in a child process. */
export interface RunningServer {
  readonly port: number;
  readonly origin: string;
  readonly heap?: { before: number; after: number; sessions: number };
  /** CPU time (user + system) the server process has used so far, in microseconds. */
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 15_000;

/** Starts `server.js <variant>` with its own core and waits until it listens. */
export function startServer(variant: string, options: { args?: string[]; nodeOptions?: string[] } = {}): Promise<RunningServer> {
  const child = fork(join(__dirname, 'server.js'), [variant, ...(options.args ?? [])], {
    execArgv: options.nodeOptions ?? [],
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench server "${variant}" did not start within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bench server "${variant}" exited with code ${String(code)} before it was ready`));
    });
    child.once('message', (message: ServerMessage) => {
      clearTimeout(timer);
      if ('error' in message) {
        reject(new Error(`bench server "${variant}" failed to start: ${message.error}`));
        return;
      }
      child.removeAllListeners('exit');
      if (!('ready' in message)) {
        reject(new Error(`bench server "${variant}" sent an unexpected first message`));
        return;
      }
      resolve({
        port: message.port,
        origin: `http://127.0.0.1:${message.port}`,
        heap: message.heap,
        cpuMicros: () => askCpu(child),
        stop: () => stopChild(child),
      });
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.send({ stop: true });
  });
}

function askCpu(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const listener = (message: ServerMessage): void => {
      if ('cpuMicros' in message) {
        child.off('message', listener);
        resolve(message.cpuMicros);
      }
    };
    child.on('message', listener);
    child.send({ cpu: true });
  });
}

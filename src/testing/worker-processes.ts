/**
 * `zim-migrate worker` as child processes, configured the way an operator would (environment only): for tests that
 * kill workers and benchmarks that run several worker processes or measure one from outside (CPU, RSS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { WORKER_STARTED_LINE } from '../cli/commands/worker';
import { withWorkerMemory } from '../worker/memory-env';
import { TEST_APP_ID, TEST_SECRET } from './migration-rig';

const BIN = path.join(__dirname, '../../bin/zim-migrate.js');

export interface WorkerProcessSettings {
  temporalAddress: string;
  taskQueue: string;
  zimBaseUrl: string;
  /** The call schedule every worker process shares. */
  budgetDbPath: string;
  /**
   * How long one ZIM call may take (ZIM_MIGRATE_ZIM_TIMEOUT_MS; the worker's default, 15 s, when absent). Tests that
   * SIGKILL workers shorten it: a worker killed mid-import holds that conversation for 3 times this.
   */
  zimTimeoutMs?: number;
}

/** The worker's environment: the test ZIM app, the emulator, one task queue and one shared call schedule. */
export function workerProcessEnv(s: WorkerProcessSettings): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TEMPORAL_ADDRESS: s.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    ZIM_MIGRATE_TASK_QUEUE: s.taskQueue,
    ZIM_APP_ID: String(TEST_APP_ID),
    ZIM_SERVER_SECRET: TEST_SECRET,
    ZIM_BASE_URL: s.zimBaseUrl,
    ZIM_MIGRATE_BUDGET_DB: s.budgetDbPath,
    ...(s.zimTimeoutMs !== undefined && { ZIM_MIGRATE_ZIM_TIMEOUT_MS: String(s.zimTimeoutMs) }),
  };
}

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  /** Where its stderr goes (read on failure). */
  logFile: string;
  /** Resolves with the exit code (or signal) when the process ends, for whatever reason. */
  exited: Promise<number | string>;
  /** Resolves once the worker has built its workflow bundle and is about to poll (it says so on stderr). */
  ready(timeoutMs?: number): Promise<void>;
  /** SIGTERM (the worker drains and exits), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of its stderr. */
  logTail(lines?: number): string;
}

/**
 * Node options for the worker processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile them from a
 * benchmark (Node refuses --cpu-prof in NODE_OPTIONS).
 */
const NODE_ARGS_ENV = 'ZIM_BENCH_WORKER_NODE_ARGS';
const nodeArgs = () => z.string().optional().parse(process.env[NODE_ARGS_ENV])?.split(/\s+/).filter(Boolean) ?? [];

export interface SpawnWorkerOptions {
  /** Its working directory (e.g. an empty one of its own, as on a machine of its own); this process's by default. */
  cwd?: string;
  /** Where its stderr goes; a new temporary file by default. */
  logFile?: string;
}

/** Starts `zim-migrate worker` with `env` (see workerProcessEnv); stdout is dropped, stderr goes to a log file. */
export function spawnWorkerProcess(env: NodeJS.ProcessEnv, options: SpawnWorkerOptions = {}): WorkerProcess {
  const logFile = options.logFile ?? path.join(mkdtempSync(path.join(tmpdir(), 'worker-log-')), 'worker.log');
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...nodeArgs(), BIN, 'worker'], {
    env: withWorkerMemory(env),
    cwd: options.cwd,
    stdio: ['ignore', 'ignore', fd],
  });
  closeSync(fd); // the child holds its own copy
  if (child.pid === undefined) throw new Error('could not start zim-migrate worker');
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))
  );
  return {
    child,
    pid: child.pid,
    logFile,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(killer);
    },
    async ready(timeoutMs = 180_000) {
      const until = Date.now() + timeoutMs;
      while (!readFileSync(logFile, 'utf8').includes(WORKER_STARTED_LINE)) {
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > until)
          throw new Error(`worker process ${child.pid} did not start:\n${this.logTail()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    logTail(lines = 20) {
      return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    },
  };
}

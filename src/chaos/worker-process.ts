/**
 * The production worker (`zim-migrate worker`, or another long-running command such as `zim-migrate receiver`) as
 * a child process that a chaos run can SIGKILL and start again. Exits it did not ask for (a crash, or giving up on
 * an unreachable server) are counted and restarted, so a run reports them instead of hanging.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { withWorkerMemory } from '../worker/memory-env';

const BIN = path.join(__dirname, '../../bin/zim-migrate.js');

export interface WorkerProcessOptions {
  env: NodeJS.ProcessEnv;
  /** The command and its flags; `['worker']` when absent. */
  args?: string[];
  /** A line the command prints once it is up (to stdout or stderr); needed by `ready()`. */
  readyLine?: string;
  /** stdout and stderr of every incarnation are appended here. */
  logFile: string;
  /** Its working directory (a chaos "machine"'s folder); this process's when absent. */
  cwd?: string;
  /** Called when the worker exited on its own (it is restarted right after). */
  onUnexpectedExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface WorkerProcess {
  /** The current incarnation's process id (for CPU and memory readings). */
  readonly pid: number | undefined;
  /** Exits the worker had on its own, each followed by a restart. */
  readonly unexpectedExits: number;
  /** SIGKILL, wait for the exit, start a new worker. */
  killAndRestart(): Promise<void>;
  /** SIGKILL for good. */
  stop(): Promise<void>;
  /** Resolves once the current incarnation has printed `readyLine` (throws after `timeoutMs`). */
  ready(timeoutMs?: number): Promise<void>;
}

const occurrences = (text: string, line: string) => text.split(line).length - 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startWorkerProcess(options: WorkerProcessOptions): WorkerProcess {
  let child: ChildProcess;
  let exited: Promise<void>;
  let expectingExit = false;
  let stopped = false;
  let unexpectedExits = 0;
  let launches = 0;

  const launch = () => {
    const log = openSync(options.logFile, 'a');
    try {
      child = spawn(process.execPath, [BIN, ...(options.args ?? ['worker'])], {
        env: withWorkerMemory(options.env),
        cwd: options.cwd,
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    launches++;
    const current = child;
    exited = new Promise((resolve) =>
      current.once('exit', (code, signal) => {
        resolve();
        if (expectingExit || stopped) return;
        unexpectedExits++;
        options.onUnexpectedExit?.(code, signal);
        launch();
      })
    );
  };
  const kill = async () => {
    expectingExit = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    expectingExit = false;
  };
  launch();

  return {
    get pid() {
      return child.pid;
    },
    get unexpectedExits() {
      return unexpectedExits;
    },
    async killAndRestart() {
      await kill();
      if (!stopped) launch();
    },
    async stop() {
      stopped = true;
      await kill();
    },
    async ready(timeoutMs = 60_000) {
      const line = options.readyLine;
      if (!line) throw new Error('ready() needs the readyLine option');
      // The log holds every incarnation's output: this one is up when the line is there once per launch.
      const until = Date.now() + timeoutMs;
      while (occurrences(readFileSync(options.logFile, 'utf8'), line) < launches) {
        if (Date.now() > until) throw new Error(`not up after ${timeoutMs} ms (no "${line}" in ${options.logFile})`);
        await sleep(100);
      }
    },
  };
}

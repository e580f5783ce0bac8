/**
 * A server we run as our own child process (the Temporal dev server, a throwaway PostgreSQL): started with its
 * output appended to a log file, ready when a probe says so, stopped gracefully or killed as a crash, and never
 * left behind: whatever ends this process (an error, process.exit), the child is killed with it.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export interface ServerChildOptions {
  /** How messages name it, e.g. "the Temporal dev server". */
  name: string;
  command: string;
  args: readonly string[];
  logFile: string;
  /** Extra spawn options (e.g. uid/gid to run as another user). */
  spawnOptions?: Omit<SpawnOptions, 'stdio'>;
  /**
   * Run it as the leader of its own process group, and have `kill()` kill the whole group: PostgreSQL's backends
   * outlive a SIGKILLed postmaster for a moment and hold its shared memory, which makes a restart refuse to start.
   */
  processGroup?: boolean;
  /** The signal that asks it to stop (SIGTERM; PostgreSQL's fast shutdown is SIGINT). */
  stopSignal: NodeJS.Signals;
  /** Whether it serves now; may throw to give up (e.g. an aborted start). */
  ready: () => Promise<boolean>;
  /** What a start that never became ready says. */
  notReady: string;
  startTimeoutMs?: number;
  pollMs: number;
  /** Runs when this process exits while the child runs, after the child is killed (e.g. remove its directory). */
  onProcessExit?: () => void;
}

export interface ServerChild {
  /** Spawns it and waits until `ready`; a start that fails kills what it spawned. */
  start(): Promise<void>;
  /** SIGKILL, as a crash. Waits for the exit. */
  kill(): Promise<void>;
  /** The stop signal, then SIGKILL if it has not exited after `graceMs` (default 5 s). Waits for the exit. */
  stop(graceMs?: number): Promise<void>;
  running(): boolean;
  readonly pid: number | undefined;
}

export function serverChild(o: ServerChildOptions): ServerChild {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const sigkill = () => {
    if (!running()) return;
    if (o.processGroup && child?.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
        return;
      } catch {
        // the group is gone already: kill the child alone below
      }
    }
    child?.kill('SIGKILL');
  };
  const killOnExit = () => {
    sigkill();
    o.onProcessExit?.();
  };

  async function waitUntilReady(deadline: number): Promise<void> {
    for (;;) {
      if (!running()) throw new Error(`${o.name} exited at start (see ${o.logFile})`);
      if (await o.ready()) return;
      if (Date.now() > deadline) throw new Error(o.notReady);
      await new Promise((r) => setTimeout(r, o.pollMs));
    }
  }

  const handle: ServerChild = {
    get pid() {
      return running() ? child?.pid : undefined;
    },
    running,
    async start() {
      if (running()) throw new Error(`${o.name} already runs`);
      process.off('exit', killOnExit);
      process.on('exit', killOnExit);
      const log = openSync(o.logFile, 'a');
      try {
        child = spawn(o.command, o.args, {
          ...o.spawnOptions,
          ...(o.processGroup && { detached: true }),
          stdio: ['ignore', log, log],
        });
      } finally {
        closeSync(log);
      }
      const current = child;
      exited = new Promise((resolve) => current.once('exit', () => resolve()));
      try {
        await waitUntilReady(Date.now() + (o.startTimeoutMs ?? 60_000));
      } catch (err) {
        await handle.kill();
        throw err;
      }
    },
    async kill() {
      sigkill();
      await exited;
    },
    async stop(graceMs = 5_000) {
      if (running()) {
        child?.kill(o.stopSignal);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), graceMs)));
        if ((await Promise.race([exited, late])) === 'late') sigkill();
        clearTimeout(timer);
      }
      await exited;
      process.off('exit', killOnExit);
    },
  };
  return handle;
}

/**
 * The workers of a chaos run, as the machines they would run on. With the staging on SQLite there is one machine,
 * holding the staging file: a kill SIGKILLs its worker and starts it again in place. With the staging and the call
 * schedule in PostgreSQL there are several: each has its own working directory (its cwd and TMPDIR) and worker
 * processes configured by the environment alone, and a kill loses the whole machine (every process SIGKILLed, the
 * directory deleted); a fresh machine with a new directory and only the connection settings takes its place.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startWorkerProcess, type WorkerProcess, type WorkerProcessOptions } from './worker-process';

export interface MachinesOptions {
  /** Machines kept running (a lost one is replaced). */
  count: number;
  /** Worker processes on each machine. */
  processesPerMachine: number;
  /** Each machine's working directory is made under here (and deleted when the machine is lost). */
  root: string;
  /** Each machine's worker log, `<name>.log`, goes here (outside its working directory, so it outlives a loss). */
  logDir: string;
  /** The environment every worker process gets: the connection settings, nothing machine-local. */
  env: NodeJS.ProcessEnv;
  /** false: a kill restarts the processes in the same directory, which is kept (the SQLite staging lives there). */
  replaceOnKill: boolean;
  log: (line: string) => void;
  /** Starts one worker process; `startWorkerProcess` (tests pass a fake). */
  startProcess?: (options: WorkerProcessOptions) => WorkerProcess;
}

interface Machine {
  name: string;
  dir: string;
  processes: WorkerProcess[];
}

export interface Machines {
  /** Exits the worker processes had on their own (each was restarted). */
  readonly unexpectedExits: number;
  /** Kills the next machine in turn (the longest running) and brings up its replacement; says what happened. */
  kill(): Promise<string>;
  /** SIGKILL every process, for good. */
  stop(): Promise<void>;
}

export function startMachines(o: MachinesOptions): Machines {
  let started = 0;
  let exitsOfLost = 0;
  const start = (): Machine => {
    const name = `machine-${++started}`;
    const dir = path.join(o.root, name);
    mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    const processes = Array.from({ length: o.processesPerMachine }, (_, i) =>
      (o.startProcess ?? startWorkerProcess)({
        env: { ...o.env, TMPDIR: path.join(dir, 'tmp') },
        cwd: dir,
        logFile: path.join(o.logDir, `${name}.log`),
        onUnexpectedExit: (code, signal) =>
          o.log(`${name} worker ${i + 1} exited on its own (${signal ?? `code ${code}`}); restarted`),
      })
    );
    return { name, dir, processes };
  };
  const machines = Array.from({ length: o.count }, start);
  const stopAll = (m: Machine) => Promise.all(m.processes.map((p) => p.stop()));

  return {
    get unexpectedExits() {
      return machines.reduce((sum, m) => sum + m.processes.reduce((s, p) => s + p.unexpectedExits, 0), exitsOfLost);
    },
    async kill() {
      const lost = machines.shift()!;
      if (!o.replaceOnKill) {
        await Promise.all(lost.processes.map((p) => p.killAndRestart()));
        machines.push(lost);
        return `worker killed (SIGKILL) and restarted`;
      }
      await stopAll(lost);
      exitsOfLost += lost.processes.reduce((s, p) => s + p.unexpectedExits, 0);
      rmSync(lost.dir, { recursive: true, force: true });
      const fresh = start();
      machines.push(fresh);
      const what = o.processesPerMachine === 1 ? 'its worker' : `its ${o.processesPerMachine} workers`;
      return `${lost.name} lost (${what} SIGKILLed, its folder deleted); ${fresh.name} started in its place`;
    },
    async stop() {
      await Promise.all(machines.map(stopAll));
    },
  };
}

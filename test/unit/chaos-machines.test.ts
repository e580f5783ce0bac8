/** The chaos runner's machines, with fake worker processes: what a kill does on each engine. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { startMachines, type MachinesOptions } from '../../src/chaos/machines';
import type { WorkerProcess, WorkerProcessOptions } from '../../src/chaos/worker-process';

interface Fake {
  options: WorkerProcessOptions;
  restarts: number;
  stopped: boolean;
}

describe('chaos machines', () => {
  let root: string;
  let fakes: Fake[];
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'chaos-machines-'));
    fakes = [];
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const options = (o: Partial<MachinesOptions>): MachinesOptions => ({
    count: 2,
    processesPerMachine: 2,
    root: path.join(root, 'machines'),
    logDir: root,
    env: { ZIM_MIGRATE_BUDGET_DB: 'postgres://zim@127.0.0.1:5432/zim' },
    replaceOnKill: true,
    log: () => undefined,
    startProcess(processOptions) {
      const fake: Fake = { options: processOptions, restarts: 0, stopped: false };
      fakes.push(fake);
      const process: WorkerProcess = {
        pid: undefined,
        unexpectedExits: 0,
        killAndRestart: () => Promise.resolve(void fake.restarts++),
        stop: () => Promise.resolve(void (fake.stopped = true)),
        ready: () => Promise.resolve(),
      };
      return process;
    },
    ...o,
  });

  it('gives each machine its own folder, and its processes only the connection settings and that folder', () => {
    startMachines(options({}));
    assert.equal(fakes.length, 4);
    assert.deepEqual(readdirSync(path.join(root, 'machines')).sort(), ['machine-1', 'machine-2']);
    const [a, , c] = fakes as [Fake, Fake, Fake];
    assert.equal(a.options.cwd, path.join(root, 'machines', 'machine-1'));
    assert.equal(c.options.cwd, path.join(root, 'machines', 'machine-2'));
    assert.equal(a.options.env.TMPDIR, path.join(root, 'machines', 'machine-1', 'tmp'));
    assert.equal(a.options.env.ZIM_MIGRATE_BUDGET_DB, 'postgres://zim@127.0.0.1:5432/zim');
    assert.equal(a.options.logFile, path.join(root, 'machine-1.log'));
  });

  it('loses the longest-running machine whole and starts a fresh one in its place', async () => {
    const machines = startMachines(options({}));
    assert.match(await machines.kill(), /^machine-1 lost \(its 2 workers SIGKILLed, its folder deleted\); machine-3/);
    assert.ok(fakes[0]!.stopped && fakes[1]!.stopped, 'every process of the machine is killed');
    assert.ok(!fakes[2]!.stopped && !fakes[3]!.stopped, 'the other machine runs on');
    assert.ok(!existsSync(path.join(root, 'machines', 'machine-1')), 'its folder is deleted');
    assert.equal(fakes.length, 6);
    assert.equal(fakes[4]!.options.cwd, path.join(root, 'machines', 'machine-3'));
    assert.match(await machines.kill(), /^machine-2 lost/);
    await machines.stop();
    assert.ok(fakes.every((f) => f.stopped));
    assert.deepEqual(readdirSync(path.join(root, 'machines')).sort(), ['machine-3', 'machine-4']);
  });

  it('on a SQLite staging, restarts the processes in place and keeps the folder', async () => {
    const machines = startMachines(options({ count: 1, processesPerMachine: 1, replaceOnKill: false }));
    assert.equal(await machines.kill(), 'worker killed (SIGKILL) and restarted');
    assert.equal(fakes.length, 1);
    assert.equal(fakes[0]!.restarts, 1);
    assert.ok(existsSync(path.join(root, 'machines', 'machine-1')));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CallSeries } from '../../src/benchmarks/budget-use';
import { importPhases, type CpuSeries } from '../../src/benchmarks/import-phases';
import type { StageProgress } from '../../src/shared/workflow-api';

const T0 = 1_000_000;
const stage = (name: 'peer-messages' | 'group-messages', from: number, to: number, calls: number) =>
  ({ stage: name, status: 'done', startedAt: T0 + from * 1000, finishedAt: T0 + to * 1000, calls }) as StageProgress;

describe('bench:makespan message imports by phase', () => {
  it('splits the imports where a stage starts or ends, with each Action rate and the worker CPU per call', () => {
    // One-to-one imports at 30/s while room imports run at 20/s (10-60 s), then 50/s alone; the worker at 0.4 cores.
    const series: CallSeries = [];
    const cpu: CpuSeries = [];
    let peer = 0;
    let room = 0;
    for (let s = 0; s <= 100; s++) {
      series.push({
        at: T0 + s * 1000,
        calls: { ImportPeerMsg: peer, ImportGroupMsg: room, AddFriends: 7 },
        tooFrequent: {},
      });
      cpu.push({ at: T0 + s * 1000, cpuSeconds: 0.4 * s });
      const both = s >= 10 && s < 60;
      peer += both ? 30 : 50;
      room += both ? 20 : 0;
    }
    const phases = importPhases(
      series,
      cpu,
      [stage('peer-messages', 0, 100, peer), stage('group-messages', 10, 60, room)],
      T0
    );
    assert.deepEqual(
      phases.map((p) => [p.from, p.to, p.stages, p.perSecond, p.allPerSecond]),
      [
        [0, 10, ['peer-messages'], { ImportPeerMsg: 50 }, 50],
        [10, 60, ['peer-messages', 'group-messages'], { ImportPeerMsg: 30, ImportGroupMsg: 20 }, 50],
        [60, 100, ['peer-messages'], { ImportPeerMsg: 50 }, 50],
      ]
    );
    for (const p of phases) {
      assert.ok(Math.abs(p.workerCores - 0.4) < 1e-9);
      assert.ok(Math.abs(p.workerMsPerCall - 8) < 1e-9);
    }
  });

  it('leaves out phases shorter than the minimum and stages with no imports', () => {
    const series: CallSeries = [0, 1, 2].map((s) => ({ at: T0 + s * 1000, calls: {}, tooFrequent: {} }));
    const cpu: CpuSeries = [0, 1, 2].map((s) => ({ at: T0 + s * 1000, cpuSeconds: s }));
    assert.deepEqual(importPhases(series, cpu, [stage('peer-messages', 0, 2, 5)], T0), []);
    assert.deepEqual(importPhases(series, cpu, [stage('peer-messages', 0, 2, 0)], T0, 1), []);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FaultInjector } from '../../src/zim-emulator/faults';
import type { ZimAction } from '../../src/zim-client/actions';

const run = (injector: FaultInjector, n: number, action: ZimAction = 'ImportPeerMsg') =>
  Array.from({ length: n }, () => injector.decide(action));

describe('FaultInjector', () => {
  it('injects nothing by default', () => {
    assert.deepEqual(run(new FaultInjector(), 5), [undefined, undefined, undefined, undefined, undefined]);
  });

  it('replays the same decisions for the same seed, and different ones for another seed', () => {
    const config = { seed: 42, resetRate: 0.3, http5xxRate: 0.2, latencyMs: 5, latencyJitterMs: 10 };
    const a = run(new FaultInjector(config), 200);
    assert.deepEqual(a, run(new FaultInjector(config), 200));
    assert.notDeepEqual(a, run(new FaultInjector({ ...config, seed: 43 }), 200));
    const injector = new FaultInjector(config);
    run(injector, 50);
    injector.set(config);
    assert.deepEqual(run(injector, 200), a, 'set() restarts from the seed');
  });

  it('hits each configured rate approximately and respects the latency bounds', () => {
    const decisions = run(
      new FaultInjector({ seed: 7, resetRate: 0.1, commitThenDropRate: 0.5, latencyMs: 3, latencyJitterMs: 4 }),
      4000
    );
    const share = (f: (d: NonNullable<(typeof decisions)[number]>) => boolean) =>
      decisions.filter((d) => d && f(d)).length / decisions.length;
    assert.ok(Math.abs(share((d) => d.reset) - 0.1) < 0.03);
    assert.ok(Math.abs(share((d) => d.commitThenDrop) - 0.5) < 0.05);
    assert.equal(
      share((d) => d.http5xx || d.serverBusy || d.tooFrequent),
      0
    );
    assert.ok(decisions.every((d) => d && d.delayMs >= 3 && d.delayMs <= 7));
  });

  it('answers "too frequent" in bursts of the configured length', () => {
    const decisions = run(new FaultInjector({ seed: 3, tooFrequentBurst: { startRate: 0.05, length: 4 } }), 3000);
    const runs: number[] = [];
    let current = 0;
    for (const d of decisions) {
      if (d?.tooFrequent) current += 1;
      else if (current > 0) {
        runs.push(current);
        current = 0;
      }
    }
    assert.ok(runs.length > 10);
    assert.ok(
      runs.every((n) => n % 4 === 0),
      `bursts are whole multiples of 4: ${runs.join(',')}`
    );
  });

  it('adds latency spikes to a share of calls', () => {
    const spiky = run(new FaultInjector({ seed: 9, resetRate: 0.2, latencySpike: { rate: 0.05, ms: 1_500 } }), 2000);
    const spikes = spiky.filter((d) => d?.spike);
    assert.ok(spikes.length > 60 && spikes.length < 140, `${spikes.length} spikes`);
    assert.ok(spikes.every((d) => d!.delayMs === 1_500));
    assert.ok(spiky.every((d) => d!.spike || d!.delayMs === 0));
    assert.deepEqual(
      spiky,
      run(new FaultInjector({ seed: 9, resetRate: 0.2, latencySpike: { rate: 0.05, ms: 1_500 } }), 2000)
    );
  });

  it('applies faults only to the selected Actions', () => {
    const injector = new FaultInjector({ seed: 1, resetRate: 1, actions: ['ImportGroupMsg'] });
    assert.equal(injector.decide('ImportPeerMsg'), undefined);
    assert.equal(injector.decide('ImportGroupMsg')?.reset, true);
  });
});

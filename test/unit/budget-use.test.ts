import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { paceAndRefusals, type CallSeries } from '../../src/benchmarks/budget-use';

describe('paceAndRefusals', () => {
  it('gives each refusal its second and the calls/s of each window', () => {
    // Samples one second apart: 10 calls a second, two refusals in second 2 and one in second 4.
    const series: CallSeries = Array.from({ length: 6 }, (_, i) => ({
      at: i * 1000,
      calls: { ImportPeerMsg: i * 10 },
      tooFrequent: { ImportPeerMsg: i < 2 ? 0 : i < 4 ? 2 : 3 },
    }));
    assert.deepEqual(paceAndRefusals(series, 'ImportPeerMsg', 2), { refusedAt: [2, 2, 4], pace: [10, 10, 5] });
    assert.deepEqual(paceAndRefusals(series, 'ImportGroupMsg', 2), { refusedAt: [], pace: [0, 0, 0] });
  });
});

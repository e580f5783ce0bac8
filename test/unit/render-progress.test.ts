import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderProgress } from '../../src/cli/render-progress';

describe('renderProgress', () => {
  it('shows status, reason, ETA, and per stage a bar, counts, failures and rate against budget', () => {
    const text = renderProgress(
      {
        migrationId: 'm1',
        status: 'paused',
        pausedReason: 'peak hours',
        startedAt: 0,
        pausedSeconds: 20,
        rateWindowSeconds: 30,
        etaSeconds: 3725,
        stages: [
          { stage: 'accounts', status: 'done', planned: 1000, done: 998, failed: 2, skipped: 0, calls: 10 },
          {
            stage: 'peer-messages',
            status: 'paused',
            planned: 20000,
            done: 5000,
            failed: 0,
            skipped: 0,
            calls: 5000,
            action: 'ImportPeerMsg',
            budget: 20,
            callsPerSecond: 19.6,
          },
        ],
      },
      90_000
    );
    const lines = text.split('\n');
    assert.equal(lines[0], 'migration m1: PAUSED  ·  elapsed 1m 30s (paused 20s)  ·  ETA 1h 02m');
    assert.equal(lines[1], 'paused: peak hours');
    assert.match(lines[2]!, /^accounts\s+done\s+█{20}\s+100%\s+1,000\/1,000\s+failed 2$/);
    assert.match(
      lines[3]!,
      /^peer-messages\s+paused\s+█{5}░{15}\s+25%\s+5,000\/20,000\s+19\.6\/20 calls\/s ImportPeerMsg$/
    );
    assert.equal(lines[4], 'calls/s: sent over the last 30 s (the call schedule); counts: the ledger');
  });

  it('counts the ETA down from the moment the migration read its ledger', () => {
    const p = {
      migrationId: 'm1',
      status: 'running' as const,
      startedAt: 0,
      stages: [],
      asOf: 80_000,
      etaSeconds: 100,
    };
    assert.match(renderProgress(p, 90_000).split('\n')[0]!, /ETA 1m 30s$/);
    assert.match(renderProgress(p, 500_000).split('\n')[0]!, /ETA 0s$/);
  });
});

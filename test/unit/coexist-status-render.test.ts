import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderSyncStatus } from '../../src/cli/commands/coexist';
import type { SyncStatus } from '../../src/coexist/sync-control';

const way = { mirrored: 0, eventsPerSecond: 0, lagMs: { p50: null, p99: null } };
const status = (divergences: SyncStatus['divergences']): SyncStatus => ({
  name: 'acme',
  state: 'running',
  conversations: { open: 1, closed: 0 },
  legacyToZim: way,
  zimToLegacy: way,
  echoesSuppressed: 0,
  settledAmbiguously: { byEcho: 0, byTail: 0 },
  duplicatesDropped: 0,
  reordered: 0,
  refused: 0,
  parked: 0,
  queued: 0,
  divergences,
});

describe('coexist status: the audits line', () => {
  const base = { runs: 3, failed: 0, found: 2, repaired: 2, gaps: 0 };

  it('says how many conversations listing users found, and which listings were cut short', () => {
    const text = renderSyncStatus(status({ ...base, discovered: 4, listingsCut: 1 }));
    assert.match(
      text,
      /divergences 2 found, 2 repaired \(3 audits, 4 conversations found by listing users, 1 user listing cut short \(older conversations there not audited\)\)/
    );
  });

  it('says nothing of discovery when it found nothing or ran before discovery existed', () => {
    for (const d of [{ ...base, discovered: 0, listingsCut: 0 }, base]) {
      const line = renderSyncStatus(status(d))
        .split('\n')
        .find((l) => l.includes('divergences'))!;
      assert.doesNotMatch(line, /listing/);
    }
  });
});

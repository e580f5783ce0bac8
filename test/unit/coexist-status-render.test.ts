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
  echoes: { byWorkflows: 0, byReceivers: 0 },
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

describe('coexist status: the echoes', () => {
  const base = { runs: 0, failed: 0, found: 0, repaired: 0, gaps: 0 };

  it('adds the receivers’ echoes to the workflows’, and shows both', () => {
    const text = renderSyncStatus({
      ...status(base),
      echoesSuppressed: 30,
      echoes: { byWorkflows: 12, byReceivers: 18 },
    });
    assert.match(text, /echoes suppressed 30;/);
    assert.match(text, /echoes settled by the receivers 18 \(no Temporal call\), by the conversation workflows 12/);
  });

  it('says which figure is missing when the store could not be read', () => {
    const text = renderSyncStatus({
      ...status(base),
      echoesSuppressed: 12,
      echoes: { byWorkflows: 12, byReceivers: null, storeError: 'No coexistence store at coexist.sqlite' },
    });
    assert.match(
      text,
      /echoes settled by the receivers: not counted \(No coexistence store at coexist\.sqlite\); the 12 above are the conversation workflows' only/
    );
  });
});

/**
 * The audit's group comparison (src/coexist/group-audit.ts): which side a group change was made on, decided by the
 * state the store saw both sides agree on, and nothing guessed when it saw none.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareGroup, type AgreedGroup, type GroupSide } from '../../src/coexist/group-audit';

const side = (owner: string, members: string[], extra: Partial<GroupSide> = {}): GroupSide => ({
  owner,
  members,
  ...extra,
});
const agreed = (live: boolean | null, members: Record<string, boolean> = {}): AgreedGroup => ({
  live,
  members: new Map(Object.entries(members)),
});

describe('audit: a group compared on both sides', () => {
  it('records what both sides agree on as the baseline, and finds nothing', () => {
    const r = compareGroup(side('ann', ['ann', 'bob']), side('ann', ['bob']), agreed(null), 0);
    assert.deepEqual(r, { repairs: [], ambiguous: [], agreed: ['ann', 'bob'], agreedLive: true });
    // Already recorded: nothing more to record.
    const again = compareGroup(side('ann', ['bob']), side('ann', ['bob']), agreed(true, { ann: true, bob: true }), 0);
    assert.deepEqual(again, { repairs: [], ambiguous: [], agreed: [], agreedLive: false });
  });

  it('a member the store knew, now on one side only, left the other side', () => {
    const r = compareGroup(
      side('ann', ['bob', 'cy']),
      side('ann', ['dan']),
      agreed(true, { ann: true, bob: true, cy: true, dan: true }),
      0
    );
    assert.deepEqual(r.repairs, [
      { change: 'left', origin: 'zim', users: ['dan'] },
      { change: 'left', origin: 'legacy', users: ['bob', 'cy'] },
    ]);
    assert.deepEqual(r.ambiguous, []);
  });

  it('a member the store knew as out, now on one side, joined that side', () => {
    const r = compareGroup(side('ann', ['bob']), side('ann', ['cy']), agreed(true, { bob: false, cy: false }), 0);
    assert.deepEqual(r.repairs, [
      { change: 'joined', origin: 'zim', users: ['bob'] },
      { change: 'joined', origin: 'legacy', users: ['cy'] },
    ]);
  });

  it('a member the store never saw is ambiguous: found, not guessed', () => {
    const r = compareGroup(side('ann', ['bob', 'eve']), side('ann', ['bob']), agreed(true, { bob: true }), 0);
    assert.deepEqual(r.repairs, []);
    assert.deepEqual(r.ambiguous, [{ about: 'members', has: 'zim', users: ['eve'] }]);
    assert.deepEqual(r.agreed, ['ann'], 'the owner both have is recorded');
  });

  it('a group agreed live and gone from one side was dismissed there', () => {
    const r = compareGroup(null, side('ann', ['bob']), agreed(true), 0);
    assert.deepEqual(r.repairs, [{ change: 'dismissed', origin: 'zim' }]);
    assert.deepEqual(compareGroup(side('ann', []), null, agreed(true), 0).repairs, [
      { change: 'dismissed', origin: 'legacy' },
    ]);
  });

  it('a group the store never saw, on one side only: created there when newer than the window, else ambiguous', () => {
    const created = compareGroup(
      side('ann', ['ann', 'bob'], { name: 'G', createdAt: 5_000 }),
      null,
      agreed(null),
      1_000
    );
    assert.deepEqual(created.repairs, [
      { change: 'created', origin: 'zim', owner: 'ann', users: ['ann', 'bob'], name: 'G', createdAt: 5_000 },
    ]);
    const old = compareGroup(null, side('ann', ['bob'], { createdAt: 500 }), agreed(null), 1_000);
    assert.deepEqual(old.repairs, []);
    assert.deepEqual(old.ambiguous, [{ about: 'group', has: 'legacy', users: [] }]);
    // Dismissed by the sync, yet alive on one side: not for the audit to decide.
    assert.deepEqual(compareGroup(null, side('ann', [], { createdAt: 5_000 }), agreed(false), 0).repairs, []);
    assert.deepEqual(compareGroup(null, null, agreed(true), 0), {
      repairs: [],
      ambiguous: [],
      agreed: [],
      agreedLive: false,
    });
  });
});

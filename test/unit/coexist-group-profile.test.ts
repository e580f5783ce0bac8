/**
 * The group profile as coexistence compares it (src/coexist/group-profile.ts): which side changed a field, decided
 * by the profile the store saw both sides agree on; nothing guessed without one; our own writes recognised.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareProfile, holds, mergeProfile, parseAgreed } from '../../src/coexist/group-profile';

const full = (name: string, notice = '', avatar = '') => ({ name, notice, avatar });

describe('audit: a group profile compared on both sides', () => {
  it('records what both sides agree on as the baseline, and finds nothing', () => {
    assert.deepEqual(compareProfile(full('A', 'n'), full('A', 'n'), {}), {
      changes: [],
      ambiguous: [],
      agreed: full('A', 'n'),
    });
    assert.deepEqual(compareProfile(full('A'), full('A'), full('A')), { changes: [], ambiguous: [], agreed: null });
  });

  it('a field that differs from the agreed profile on one side only was changed there', () => {
    const zimChanged = compareProfile(full('B', 'n2'), full('A', 'n'), full('A', 'n'));
    assert.deepEqual(zimChanged.changes, [{ origin: 'zim', fields: { name: 'B', notice: 'n2' } }]);
    assert.deepEqual(zimChanged.ambiguous, []);
    const legacyChanged = compareProfile(full('A'), full('C'), full('A'));
    assert.deepEqual(legacyChanged.changes, [{ origin: 'legacy', fields: { name: 'C' } }]);
    // One field each: both handed, each from its side; the field they agree on becomes the baseline.
    const both = compareProfile(full('B', 'n', 'x'), full('A', 'm', 'x'), full('A', 'n'));
    assert.deepEqual(both.changes, [
      { origin: 'zim', fields: { name: 'B' } },
      { origin: 'legacy', fields: { notice: 'm' } },
    ]);
    assert.deepEqual(both.agreed, { avatar: 'x' });
  });

  it('a difference with no agreed value, or changed on both sides, is ambiguous, not guessed', () => {
    assert.deepEqual(compareProfile({ name: 'A' }, { name: 'B' }, {}), {
      changes: [],
      ambiguous: ['name'],
      agreed: null,
    });
    assert.deepEqual(compareProfile(full('B'), full('C'), full('A')).ambiguous, ['name']);
    assert.deepEqual(compareProfile(full('B'), full('C'), full('A')).changes, []);
  });

  it('a field the legacy adapter does not report is not compared; ZIM unset is the empty string', () => {
    const r = compareProfile({ name: 'A', avatar: 'zim-only' }, { name: 'A', notice: '' }, { name: 'A' });
    assert.deepEqual(r, { changes: [], ambiguous: [], agreed: { notice: '' } });
  });
});

describe('the agreed profile in the store', () => {
  it('an event whose fields it holds changes nothing (our echo, a redelivery); merging keeps the rest', () => {
    const agreed = parseAgreed(mergeProfile(full('A', 'n'), { name: 'B' }));
    assert.deepEqual(agreed, full('B', 'n'));
    assert.ok(holds(agreed, { name: 'B' }));
    assert.ok(holds(agreed, { name: 'B', notice: 'n' }));
    assert.ok(!holds(agreed, { notice: 'm' }));
    // A legacy event names only the fields that changed, but a repair may name one held and one not.
    assert.ok(!holds(agreed, { name: 'B', notice: 'm' }));
    assert.ok(!holds({}, { name: 'B' }));
  });

  it('reads what older stores hold (the last change only) and nothing from a missing or unreadable one', () => {
    assert.deepEqual(parseAgreed('{"name":"A"}'), { name: 'A' });
    assert.deepEqual(parseAgreed(null), {});
    assert.deepEqual(parseAgreed('not json'), {});
  });
});

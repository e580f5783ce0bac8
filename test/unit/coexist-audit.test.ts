import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { compareConversation, parseConversation, repairKey, type ZimListedMessage } from '../../src/coexist/audit';
import { openSqliteCoexistStore } from '../../src/coexist/coexist-store';
import type { LegacyMessage } from '../../src/coexist/legacy-contract';
import { zimExtendedData } from '../../src/coexist/sync-event';

const zimMsg = (msgId: string, sender: string, msgTime: number, extra: Partial<ZimListedMessage> = {}) => ({
  msgId,
  sender,
  msgType: 1,
  msgSeq: msgTime,
  msgTime,
  isEmpty: 0,
  ...extra,
});
const legacyMsg = (id: string, seq: number, from: string, sentAt: number, extra: Partial<LegacyMessage> = {}) => ({
  id,
  seq,
  from,
  body: 'b',
  sentAt,
  ...extra,
});
const window = { from: 1_000, until: 10_000 };

describe('reconciliation audit: comparing one conversation', () => {
  it('reports a message on either side whose mirror is missing, and nothing for mirrored pairs', () => {
    const zim = [
      zimMsg('z1', 'ann', 2_000), // ZIM-origin, mirrored (legacy l2 carries zim:z1)
      zimMsg('z2', 'bob', 3_000), // ZIM-origin, lost
      zimMsg('z3', 'ann', 4_000, { payload: zimExtendedData('l1') }), // our mirror of l1
    ];
    const legacy = [
      legacyMsg('l1', 1, 'ann', 1_500),
      legacyMsg('l2', 2, 'ann', 2_100, { clientMsgId: 'zim:z1', originTag: 'zim-migrate:z1' }),
      legacyMsg('l3', 3, 'bob', 5_000), // legacy-origin, lost
    ];
    const r = compareConversation('peer:ann:bob', zim, legacy, window);
    assert.deepEqual(
      r.missing.map((m) => [m.origin, m.msgId, m.from, m.to]),
      [
        ['zim', 'z2', 'bob', 'ann'],
        ['legacy', 'l3', 'bob', 'ann'],
      ]
    );
    assert.deepEqual(r.gaps, []);
  });

  it('recognises a legacy mirror by its origin tag alone (an adapter returning only originTag)', () => {
    const r = compareConversation(
      'group:g',
      [zimMsg('z1', 'ann', 2_000)],
      [legacyMsg('l1', 1, 'ann', 2_500, { originTag: 'zim-migrate:z1' })],
      window
    );
    assert.deepEqual(r.missing, []);
  });

  it('never reports our own mirrors as missing on their origin side', () => {
    // The origins are gone (or older than what was read): the mirrors alone are not divergences.
    const r = compareConversation(
      'group:g',
      [zimMsg('z9', 'ann', 2_000, { payload: zimExtendedData('l-gone') })],
      [legacyMsg('l9', 1, 'bob', 2_000, { clientMsgId: 'zim:z-gone' })],
      window
    );
    assert.deepEqual(r.missing, []);
  });

  it('counts only messages inside the window: in-flight ones (after `until`) and older ones wait', () => {
    const r = compareConversation(
      'group:g',
      [zimMsg('old', 'ann', 500), zimMsg('in', 'ann', 5_000), zimMsg('new', 'ann', 10_001)],
      [legacyMsg('l-new', 1, 'bob', 12_000)],
      window
    );
    assert.deepEqual(
      r.missing.map((m) => [m.msgId, m.groupId]),
      [['in', 'g']]
    );
  });

  it('finds a counterpart newer than the window (a mirror lands after its origin)', () => {
    const r = compareConversation(
      'group:g',
      [zimMsg('z1', 'ann', 9_999)],
      [legacyMsg('l1', 1, 'ann', 10_500, { clientMsgId: 'zim:z1' })],
      window
    );
    assert.deepEqual(r.missing, []);
  });

  it('skips ZIM messages that are never mirrored: expired, command, revoked, tips', () => {
    const zim = [
      zimMsg('e', 'ann', 2_000, { isEmpty: 1 }),
      zimMsg('c', 'ann', 2_000, { msgType: 2 }),
      zimMsg('r', 'ann', 2_000, { msgType: 31 }),
      zimMsg('t', 'ann', 2_000, { msgType: 32 }),
    ];
    assert.deepEqual(compareConversation('group:g', zim, [], window).missing, []);
  });

  it('reports runs of legacy sequence numbers its read API skipped', () => {
    const legacy = [1, 2, 5, 6, 9].map((s) => legacyMsg(`l${s}`, s, 'ann', 2_000 + s, { clientMsgId: `zim:x${s}` }));
    const r = compareConversation('peer:ann:bob', [], legacy, window);
    assert.deepEqual(
      r.gaps.map((g) => [g.first, g.last]),
      [
        [3, 4],
        [7, 8],
      ]
    );
  });

  it('parses conversation keys and gives repairs a key apart from the receiver’s', () => {
    assert.deepEqual(parseConversation('peer:a:b'), { kind: 'peer', users: ['a', 'b'] });
    assert.deepEqual(parseConversation('group:g:1'), { kind: 'group', groupId: 'g:1' });
    assert.equal(parseConversation('room:x'), undefined);
    assert.equal(compareConversation('room:x', [zimMsg('z', 'a', 2_000)], [], window).missing.length, 0);
    assert.equal(repairKey({ origin: 'zim', msgId: '7' }), 'audit:zim:msg:7');
    assert.equal(repairKey({ origin: 'legacy', msgId: 'l7' }), 'audit:lg:msg:l7');
  });
});

describe('coexistence store: divergences', () => {
  it('records a finding once, marks its repair once, lists conversations, and adds the table to older stores', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'coexist-audit-store-'));
    const file = path.join(dir, 's.sqlite');
    try {
      // An older store: no divergences table.
      const old = new Database(file);
      old.exec(`CREATE TABLE mirrored (origin TEXT NOT NULL, origin_id TEXT NOT NULL, conv TEXT NOT NULL,
        state TEXT NOT NULL, target_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, intent_at INTEGER,
        updated_at INTEGER NOT NULL, PRIMARY KEY (origin, origin_id));
        INSERT INTO mirrored VALUES ('zim', 'z1', 'peer:a:b', 'SENT', 'l1', 1, 1, 1);`);
      old.close();
      const store = openSqliteCoexistStore(file);
      try {
        await store.setGroup('g', { live: true, origin: 'legacy', changedAt: 1 });
        const d = { conv: 'group:g', origin: 'zim' as const, msgId: 'z2' };
        await store.recordDivergence({ ...d, kind: 'missing', at: 5 });
        await store.recordDivergence({ ...d, kind: 'missing', at: 6 });
        await store.markRepaired(d, 'handed to coexist:group:g as audit:zim:msg:z2');
        await store.markRepaired(d, 'again');
        const [row, ...rest] = await store.divergences();
        assert.equal(rest.length, 0);
        assert.equal(row?.at, 5);
        assert.equal(row?.repair, 'handed to coexist:group:g as audit:zim:msg:z2');
        assert.ok(row?.repairedAt && row.foundAt <= row.repairedAt);
        assert.deepEqual(await store.conversations(), ['group:g', 'peer:a:b']);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

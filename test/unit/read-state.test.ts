/**
 * Read states: the import format's read_states.ndjson validated and staged (each rule with its file and line, only
 * positions ZIM can express staged, counted in the plan), the read-state stage's page (ClearConversationUnread per
 * unsettled read state), and the Sendbird read_receipt mapping.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { markReadPage, readStateKey, type ClearAttempt, type ReadStatePorts } from '../../activities/read-state';
import { ZIM_PLAN_LIMITS } from '../../src/import-format/zim-limits';
import { DEFAULT_RATES } from '../../src/plan/actions';
import { buildPlan } from '../../src/plan/build-plan';
import { openStaging } from '../../src/staging';
import type { LedgerStatus, StagedReadState } from '../../src/staging/migration-store';
import { IdMap } from '../../src/sources/id-map';
import { ReportBuilder } from '../../src/sources/report';
import { mapReadReceipt } from '../../src/sources/sendbird/mapping';
import { NO_MERGE, NOW, tempDir, text, validate, writeExport } from '../helpers/exports';

const T = NOW - 86_400_000;
const groupText = (id: string, group: string, from: string, sentAt: number) => ({
  id,
  group,
  from,
  sentAt,
  type: 'text',
  body: { text: id },
});

/** a, b, c and deactivated d; a DM a↔b (p1 from a, p2 from b, p3 from a); group g (owner a, member b) with three messages. */
function exportWith(readStates: object[]): string {
  return writeExport(tempDir('read-states'), {
    'users.ndjson': [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd', deactivated: true }],
    'groups.ndjson': [{ id: 'g', owner: 'a' }],
    'group_members.ndjson': [{ group: 'g', user: 'b' }],
    'peer_messages.ndjson': [
      text('p1', 'a', 'b', T),
      text('p2', 'b', 'a', T + 1000),
      text('p3', 'a', 'b', T + 2000),
      text('p4', 'd', 'a', T + 3000),
    ],
    'group_messages.ndjson': [
      groupText('g1', 'g', 'a', T),
      groupText('g2', 'g', 'b', T),
      groupText('g3', 'g', 'a', T + 5),
    ],
    'read_states.ndjson': readStates,
  });
}

describe('read_states.ndjson', () => {
  it('rejects what names an unknown user, peer, group, message or non-member, with rule and line; warns about positions ZIM cannot set', async () => {
    const dir = exportWith([
      { user: 'a', peer: 'b', lastReadMessage: 'p2' }, // 1: followed only by a's own p3 → importable
      { user: 'b', peer: 'a', lastReadMessage: 'p2' }, // 2: p3 from a comes later → read.partial
      { user: 'a', group: 'g', lastReadMessage: 'g2' }, // 3: g3 is a's own → importable
      { user: 'b', group: 'g', lastReadMessage: 'g3' }, // 4: the newest → importable
      { user: 'x', peer: 'a', lastReadMessage: 'p1' }, // 5: unknown reader
      { user: 'a', peer: 'c', lastReadMessage: 'p1' }, // 6: p1 is not between a and c
      { user: 'c', group: 'g', lastReadMessage: 'g1' }, // 7: c is not a member
      { user: 'a', group: 'nope', lastReadMessage: 'g1' }, // 8: unknown group
      { user: 'a', peer: 'b', group: 'g', lastReadMessage: 'p1' }, // 9: both peer and group
      { user: 'b', group: 'g', lastReadMessage: 'p1' }, // 10: a DM's message named in a group
      { user: 'a', peer: 'b', lastReadMessage: 'p3' }, // 11: a repeat of line 1
      { user: 'd', peer: 'a', lastReadMessage: 'p4' }, // 12: deactivated reader: left out silently
      { user: 'a', peer: 'a', lastReadMessage: 'p1' }, // 13: themselves
    ]);
    const { result, rejects } = await validate([dir]);
    const got = rejects
      .filter((r) => r.file.endsWith('read_states.ndjson'))
      .map((r) => `${r.line} ${r.rule}`)
      .sort((x, y) => parseInt(x) - parseInt(y));
    assert.deepEqual(got, [
      '2 read.partial',
      '5 ref.unknown-user',
      '6 ref.unknown-message',
      '7 ref.not-member',
      '8 ref.unknown-group',
      '9 record.schema',
      '10 ref.unknown-message',
      '11 dup.relation',
      '13 relation.self',
    ]);
    assert.deepEqual(result.entities.read_states, {
      read: 13,
      ok: 3,
      expired: 0,
      merged: 1,
      skipped: 2,
      rejected: 7,
    });
  });

  it('stages the importable positions in (user, kind, conversation) order, counted in the plan and paged for the stage', async () => {
    const dir = exportWith([
      { user: 'b', group: 'g', lastReadMessage: 'g3' },
      { user: 'b', peer: 'a', lastReadMessage: 'p1' }, // read.partial: p2 is b's own, p3 from a is not
      { user: 'a', peer: 'b', lastReadMessage: 'p3' },
      { user: 'a', group: 'g', lastReadMessage: 'g3' },
    ]);
    const out = path.join(tempDir('read-plan'), 'staging.sqlite');
    const built = await buildPlan({
      dirs: [dir],
      out,
      limits: ZIM_PLAN_LIMITS.pro,
      asOfMs: NOW,
      merge: NO_MERGE,
      rejectsFile: null,
      rates: DEFAULT_RATES,
      excludeErrors: false,
      force: false,
    });
    assert.ok(built.plan);
    assert.equal(built.plan.counts.readStates, 3);
    const action = built.plan.actions.find((a) => a.action === 'ClearConversationUnread')!;
    assert.equal(action.stage, 'read-state');
    assert.equal(action.calls, 3);
    assert.ok(built.plan.notImported.some((n) => n.rule === 'read.partial' && n.records === 1));
    const store = await openStaging(out);
    try {
      assert.deepEqual(await store.readStatePage(0), [
        { user: 'a', kind: 'group', conv: 'g', msg: 'g3' },
        { user: 'a', kind: 'peer', conv: 'b', msg: 'p3' },
        { user: 'b', kind: 'group', conv: 'g', msg: 'g3' },
      ]);
      assert.deepEqual(await store.readStatePage(1), []);
      const work = (await store.stageWork())['read-state'];
      assert.deepEqual(
        { planned: work.planned, pages: work.pages, calls: work.calls },
        { planned: 3, pages: 1, calls: 3 }
      );
    } finally {
      await store.close();
    }
  });
});

describe('the read-state page', () => {
  const items: StagedReadState[] = [
    { user: 'a', kind: 'peer', conv: 'b', msg: 'p3' },
    { user: 'a', kind: 'group', conv: 'g', msg: 'g3' },
    { user: 'b', kind: 'group', conv: 'g', msg: 'g3' },
  ];
  function ports(answers: Map<string, ClearAttempt | Error>, ledger = new Map<string, LedgerStatus>()) {
    const calls: string[] = [];
    const p: ReadStatePorts = {
      items: async () => items,
      ledgerGet: async (keys) => new Map(keys.flatMap((k) => (ledger.has(k) ? [[k, ledger.get(k)!] as const] : []))),
      ledgerPut: async (rows) => {
        for (const r of rows) ledger.set(r.key, r.status);
      },
      clear: async (r) => {
        calls.push(`${r.user}:${r.conv}`);
        const a = answers.get(readStateKey(r)) ?? { kind: 'cleared' };
        if (a instanceof Error) throw a;
        return a;
      },
    };
    return { p, calls, ledger };
  }

  it('clears each unsettled conversation as its reader, records refusals, and never calls for a settled one', async () => {
    const refused = readStateKey(items[2]!);
    const { p, calls, ledger } = ports(
      new Map([[refused, { kind: 'refused', code: 660800002, message: 'conversation not found' }]]),
      new Map([[readStateKey(items[0]!), 'done']])
    );
    assert.deepEqual(await markReadPage(p), { done: 2, failed: 1, skipped: 0, calls: 2 });
    assert.deepEqual(calls, ['a:g', 'b:g']);
    assert.equal(ledger.get(refused), 'failed');
    assert.equal(ledger.get('read/a/group/g'), 'done');
  });

  it('a transient error fails the page; the retry calls only for what is still unsettled', async () => {
    const flaky = readStateKey(items[1]!);
    const answers = new Map<string, ClearAttempt | Error>([[flaky, new Error('socket hang up')]]);
    const { p, calls, ledger } = ports(answers);
    await assert.rejects(markReadPage(p), /socket hang up/);
    answers.delete(flaky);
    calls.length = 0;
    assert.deepEqual(await markReadPage(ports(answers, ledger).p), { done: 3, failed: 0, skipped: 0, calls: 2 });
  });
});

describe('Sendbird read_receipt → read states', () => {
  const written = [
    { id: '10', sentAt: 1_700_000_000_000 },
    { id: '11', sentAt: 1_700_000_001_000 },
    { id: '12', sentAt: 1_700_000_001_000 }, // the same millisecond as 11
    { id: '13', sentAt: 1_700_000_002_000 },
  ];

  it("places each member at the last message at or before their time (equal times read together), each DM owner's copy on its own", () => {
    const report = new ReportBuilder();
    const ids = new IdMap();
    const dm = mapReadReceipt(
      { alice: 1_700_000_001_000, bob: 1_700_000_009_000 },
      { kind: 'peer', channelUrl: 'dm', pair: ['alice', 'bob'] },
      ['alice', 'bob'],
      written,
      ids,
      report
    );
    assert.deepEqual(dm, [
      { user: 'alice', peer: 'bob', lastReadMessage: '12' },
      { user: 'bob', peer: 'alice', lastReadMessage: '13' },
    ]);
    const group = mapReadReceipt(
      { carol: 1_700_000_000_500, dave: 0, erin: 1_699_999_999_000, mallory: 1_700_000_002_000, frank: 1_700_000_002 },
      { kind: 'group', channelUrl: 'g', groupId: 'G1' },
      ['carol', 'dave', 'erin', 'frank'],
      written,
      ids,
      report
    );
    // frank's time is in seconds (Sendbird mixes units): 1_700_000_002 s is message 13's time.
    assert.deepEqual(group, [
      { user: 'carol', group: 'G1', lastReadMessage: '10' },
      { user: 'frank', group: 'G1', lastReadMessage: '13' },
    ]);
    assert.equal(report.entries['read-state.nothing-read']!.count, 2, 'dave (never) and erin (before the first)');
    assert.equal(report.entries['read-state.not-member']!.count, 1, 'mallory');
  });

  it('writes mapped ids for readers and peers whose Sendbird ids do not fit ZIM', () => {
    const long = 'customer-account-0123456789abcdef-0123-4567-89ab-0123456789ab';
    const ids = new IdMap();
    const [state] = mapReadReceipt(
      { [long]: 1_700_000_009_000 },
      { kind: 'peer', channelUrl: 'dm', pair: [long, 'bob'] },
      [long, 'bob'],
      written,
      ids,
      new ReportBuilder()
    );
    assert.deepEqual(state, { user: ids.zimId(long, 'user'), peer: 'bob', lastReadMessage: '13' });
    assert.notEqual(state.user, long);
  });
});

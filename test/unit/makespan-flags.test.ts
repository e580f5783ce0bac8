import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { lowerBound } from '../../src/benchmarks/makespan-bounds';
import { parseMakespanFlags, workloadArgs } from '../../src/benchmarks/makespan-flags';
import { MIGRATION_ACTIONS, type MigrationAction } from '../../src/shared/stages';
import { openStaging } from '../../src/staging';
import { REAL_SHAPE_PLAN_FLAGS } from '../../src/synthetic/real-shape';
import { buildStaging } from '../../src/testing/migration-rig';

const ratesAt = (rate: number) =>
  Object.fromEntries(MIGRATION_ACTIONS.map((a) => [a, rate])) as Record<MigrationAction, number>;

describe('bench:makespan --shape', () => {
  it('is synthetic unless asked, with the sizes it always had', () => {
    const o = parseMakespanFlags({});
    assert.deepEqual(
      [o.shape, o.users, o.seed, o.messages, o.groupMessages, o.rate],
      ['synthetic', 3000, 7, 10_000, 10_000, 50]
    );
    assert.deepEqual(workloadArgs(o), {
      gen: ['--messages', '10000', '--group-messages', '10000'],
      plan: [],
      limits: {},
    });
  });

  it('real: gen --shape real, planned and emulated with the limits that shape needs, its own default size', () => {
    const o = parseMakespanFlags({ shape: 'real', users: '2000' });
    assert.deepEqual([o.shape, o.users, o.seed, o.messages, o.groupMessages], ['real', 2000, 18, 16_000, 12_000]);
    const args = workloadArgs(o);
    assert.deepEqual(args.gen, ['--shape', 'real', '--messages', '16000', '--group-messages', '12000']);
    assert.deepEqual(args.plan, [...REAL_SHAPE_PLAN_FLAGS, '--exclude-errors']);
    assert.deepEqual(args.limits, { retentionDays: 10_000, maxGroupMembers: 2000 });
    const given = parseMakespanFlags({ shape: 'real', messages: '500', 'group-messages': '0', seed: '3' });
    assert.deepEqual([given.seed, given.messages, given.groupMessages], [3, 500, 0]);
  });

  it('refuses a shape it does not know, naming the flag', () => {
    assert.throws(() => parseMakespanFlags({ shape: 'realistic' }), /--shape: synthetic or real/);
  });

  it("real's default size is shaped like real chat, and its lower bound counts the longest owner copy's chain", async () => {
    const o = parseMakespanFlags({ shape: 'real' });
    const { gen, plan } = workloadArgs(o);
    const staging = await buildStaging(o.users, o.seed, { gen, plan });
    const db = new Database(staging.planned, { readonly: true });
    const conversations = db
      .prepare(
        'SELECT count(DISTINCT msg) FROM peer_copies GROUP BY min(owner, peer), max(owner, peer) ORDER BY 1 DESC'
      )
      .pluck()
      .all() as number[];
    const largeGroups = db.prepare('SELECT count(*) FROM groups WHERE member_count >= 500').pluck().get() as number;
    db.close();
    assert.ok(conversations[0]! >= 3000, `the longest conversation: ${conversations[0]}`);
    assert.ok(conversations.filter((n) => n >= 700 && n < 1500).length >= 2, conversations.slice(0, 5).join(', '));
    assert.ok(conversations.filter((n) => n <= 2).length > conversations.length / 2, 'most conversations are tiny');
    assert.ok(largeGroups >= 2, `${largeGroups} groups of 500+ members`);

    const store = await openStaging(staging.planned, { readonly: true });
    const meta = await store.meta();
    await store.close();
    const copy = meta.plan.actions.find((a) => a.action === 'ImportPeerMsg')!;
    // Staging order hands the longest conversation to one of its owner's four lanes: that lane is at least as long.
    const steps = copy.chainSteps!;
    assert.ok(steps >= 0.9 * conversations[0]!, `${steps} steps`);
    const made = Object.fromEntries(meta.plan.actions.map((a) => [a.action, a.calls]));
    const peerStage = (rate: number) =>
      lowerBound(meta.plan, meta.counts, ratesAt(rate), made, 17).stages.find((s) => s.stage === 'peer-messages')!;
    // At 50 calls/s the budget binds; with budgets raised the one chain does, at its steps × the step time.
    assert.equal(peerStage(50).chainBound, undefined);
    assert.equal(peerStage(50).seconds, copy.calls / 50);
    assert.equal(peerStage(10_000).chainBound, true);
    assert.ok(Math.abs(peerStage(10_000).seconds - steps * 0.017) < 1e-9);
  });
});

/**
 * `npm run chaos -- --coexist` without running it: the check that compares both sides (it must catch a doubled,
 * a missing and an echoed message), the stop's audit in `dev --coexist`'s check, the summary line and when it
 * fails, the kill plan, and the flags.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { buildChaosProgram } from '../../src/chaos/cli';
import { coexistChaosFlagsSchema } from '../../src/chaos/coexist-cli';
import { coexistChaosPassed, coexistChaosSummary } from '../../src/chaos/coexist-summary';
import { planDisruptions } from '../../src/chaos/disruption-plan';
import type { CoexistChaosResult } from '../../src/chaos/run-coexist-chaos';
import type { SyncStatus } from '../../src/coexist/sync-control';
import {
  auditLine,
  auditProblem,
  coexistExact,
  coexistLine,
  compareSides,
  trafficBody,
  type ConversationBodies,
} from '../../src/testing/coexist-traffic';

const TAG = 'run1';
const ROUNDS = 3;
const CONVERSATIONS = 4;

/** Both sides as a perfect sync leaves them: each message on its own side once and on the other once. */
function exactSides(): ConversationBodies[] {
  return Array.from({ length: CONVERSATIONS }, (_, k) => {
    const fromLegacy = Array.from({ length: ROUNDS }, (_, i) => trafficBody('L', TAG, i, k));
    const fromZim = Array.from({ length: ROUNDS }, (_, i) => trafficBody('Z', TAG, i, k));
    // Another run's traffic in the same conversation is not this run's business.
    return { inLegacy: [...fromLegacy, ...fromZim, 'L old 0.0'], inZim: [...fromZim, ...fromLegacy] };
  });
}

describe('compareSides: the coexistence check', () => {
  it('counts every message each way when both sides hold each exactly once', () => {
    const check = compareSides(exactSides(), TAG, ROUNDS);
    assert.deepEqual(check, {
      legacyToZim: 12,
      zimToLegacy: 12,
      lost: 0,
      duplicated: 0,
      echoed: 0,
      expectedEachWay: 12,
    });
    assert.ok(coexistExact(check));
    assert.equal(coexistLine(check), '12 messages legacy→ZIM, 12 ZIM→legacy, 0 lost, 0 duplicated, 0 echoed');
  });

  it('catches a message mirrored twice (duplicated)', () => {
    const sides = exactSides();
    sides[1]!.inZim.push(trafficBody('L', TAG, 2, 1));
    const check = compareSides(sides, TAG, ROUNDS);
    assert.equal(check.duplicated, 1);
    assert.equal(check.legacyToZim, 12);
    assert.equal(coexistExact(check), false);
  });

  it('catches a message missing on the other side (lost)', () => {
    const sides = exactSides();
    sides[3]!.inLegacy = sides[3]!.inLegacy.filter((b) => b !== trafficBody('Z', TAG, 0, 3));
    const check = compareSides(sides, TAG, ROUNDS);
    assert.equal(check.lost, 1);
    assert.equal(check.zimToLegacy, 11);
    assert.equal(coexistExact(check), false);
  });

  it('catches a message mirrored back to where it came from (echoed)', () => {
    const sides = exactSides();
    sides[0]!.inLegacy.push(trafficBody('L', TAG, 1, 0));
    sides[2]!.inZim.push(trafficBody('Z', TAG, 0, 2), trafficBody('Z', TAG, 0, 2));
    const check = compareSides(sides, TAG, ROUNDS);
    assert.equal(check.echoed, 3);
    assert.equal(check.lost + check.duplicated, 0);
    assert.equal(coexistExact(check), false);
  });
});

describe("dev --coexist: the stop's audit", () => {
  it('fails the check when it leaves a divergence unrepaired, naming the command that lists them', () => {
    assert.equal(auditLine({ found: 1, repaired: 0 }), 'stop audit: 1 divergence found, 0 repaired');
    assert.equal(
      auditProblem({ found: 1, repaired: 0 }, 'r/coexist.sqlite'),
      "the stop's audit left 1 divergence unrepaired: zim-migrate coexist divergences --store r/coexist.sqlite says " +
        'which and what to do'
    );
    assert.match(auditProblem(undefined, 'r/coexist.sqlite') ?? '', /did not run/);
    assert.equal(auditProblem({ found: 0, repaired: 0 }, 'r/coexist.sqlite'), undefined);
    assert.equal(auditProblem({ found: 2, repaired: 2 }, 'r/coexist.sqlite'), undefined);
  });
});

const sync = (over: Partial<SyncStatus> = {}): SyncStatus => ({
  name: 'chaos',
  state: 'stopped',
  conversations: { open: 0, closed: 4 },
  legacyToZim: { mirrored: 120, eventsPerSecond: 0, lagMs: { p50: 900, p99: 4_000 } },
  zimToLegacy: { mirrored: 120, eventsPerSecond: 0, lagMs: { p50: 900, p99: 4_500 } },
  echoesSuppressed: 240,
  echoes: { byWorkflows: 40, byReceivers: 200 },
  settledAmbiguously: { byEcho: 1, byTail: 3 },
  duplicatesDropped: 50,
  reordered: 0,
  refused: 0,
  parked: 0,
  queued: 0,
  divergences: { runs: 1, failed: 0, found: 0, repaired: 0, gaps: 0 },
  ...over,
});
const exactRun: CoexistChaosResult = {
  seed: 123,
  status: 'completed',
  workerKills: 2,
  receiverKills: 1,
  serverRestarts: 1,
  longOutages: 0,
  answered503: 9,
  exitsOnTheirOwn: 0,
  check: { legacyToZim: 120, zimToLegacy: 120, lost: 0, duplicated: 0, echoed: 0, expectedEachWay: 120 },
  sync: sync(),
  faults: { delayed: 3, commitThenDrop: 4, http5xx: 0 },
  dropped: { zim: 0, legacy: 0 },
  audit: { lostOnPurpose: 11, found: 6, repaired: 6 },
  seconds: 74,
};

describe('coexistChaosSummary', () => {
  it('is one line: kills and restarts, messages each way, lost / duplicated / echoed, how ambiguous sends settled, the seed', () => {
    assert.equal(
      coexistChaosSummary(exactRun),
      'chaos --coexist: 2 worker kills, 1 receiver kill, 1 server restart; 11 deliveries lost on purpose, ' +
        '6 divergences found, 6 repaired; 120 messages legacy→ZIM, 120 ZIM→legacy, 0 lost, ' +
        '0 duplicated, 0 echoed; 3 settled by tail, 1 by echo, 0 parked, lag p99 4.5 s, ' +
        '9 delivery attempts answered 503; ZIM send faults: 4 commitThenDrop; ' +
        '74 s ' +
        '(seed 123)'
    );
    assert.ok(coexistChaosPassed(exactRun));
  });

  it('fails a run that lost, doubled or echoed a message, parked one, did not settle or left a divergence', () => {
    const check = exactRun.check!;
    const failing: CoexistChaosResult[] = [
      { ...exactRun, check: { ...check, zimToLegacy: 119, lost: 1 } },
      { ...exactRun, check: { ...check, duplicated: 1 } },
      { ...exactRun, check: { ...check, echoed: 1 } },
      { ...exactRun, sync: sync({ parked: 1 }) },
      { ...exactRun, status: 'not-settled' },
      { ...exactRun, status: 'interrupted', check: undefined, sync: undefined },
      { ...exactRun, audit: { lostOnPurpose: 11, found: 6, repaired: 5 } },
    ];
    for (const r of failing) assert.equal(coexistChaosPassed(r), false, coexistChaosSummary(r));
    const dropped = coexistChaosSummary({
      ...exactRun,
      dropped: { zim: 1, legacy: 1 },
      exitsOnTheirOwn: 1,
      longOutages: 1,
    });
    assert.match(dropped, /1 server restart \(1 past the senders' retries\), 1 exit on their own;/);
    assert.match(dropped, /2 deliveries dropped after the last retry/);
  });
});

describe('planDisruptions with receiver kills', () => {
  it('adds them without moving the moments the other kills of a seed always had', () => {
    const base = { seed: 5, workerKills: 2, serverRestarts: 0, expectedRequests: 240 };
    const without = planDisruptions(base);
    const withReceiver = planDisruptions({ ...base, receiverKills: 2 });
    assert.deepEqual(
      withReceiver.filter((d) => d.kind === 'worker-kill'),
      without
    );
    const receiver = withReceiver.filter((d) => d.kind === 'receiver-kill');
    assert.equal(receiver.length, 2);
    for (const d of receiver) assert.ok(d.atRequests >= 0.04 * 240 && d.atRequests <= 0.8 * 240 && d.downMs === 0);
  });
});

describe('npm run chaos --coexist flags', () => {
  const errors: string[] = [];
  const original = console.error;
  afterEach(() => {
    console.error = original;
    process.exitCode = undefined;
    errors.length = 0;
  });
  const run = async (args: string[]) => {
    console.error = (line: string) => void errors.push(line);
    await buildChaosProgram().parseAsync(args, { from: 'user' });
    return process.exitCode;
  };

  it('refuse a migration flag with --coexist, and a --coexist flag without it (exit 2, nothing started)', async () => {
    assert.equal(await run(['--coexist', '--users', '40', '--rate', '20']), 2);
    assert.deepEqual(errors, ['chaos: --users, --rate do not apply with --coexist']);
    errors.length = 0;
    assert.equal(await run(['--receiver-kills', '1']), 2);
    assert.deepEqual(errors, ['chaos: --receiver-kills needs --coexist']);
  });

  it('refuse what is out of range, naming the flag', () => {
    const result = coexistChaosFlagsSchema.safeParse({
      kills: '2',
      receiverKills: '-1',
      serverRestarts: '101',
      longOutages: '0',
      coexistRounds: '0',
      seed: '1',
      timeoutMinutes: '5',
      faults: 'on',
      keep: false,
    });
    assert.deepEqual(
      result.error?.issues.map((i) => i.message),
      [
        '--receiver-kills must be at least 0',
        '--server-restarts must be at most 100',
        '--coexist-rounds must be at least 1',
      ]
    );
  });

  it('refuse more long outages than server restarts', () => {
    const flags = { kills: '2', receiverKills: '1', coexistRounds: '10', seed: '1', timeoutMinutes: '5' };
    const result = coexistChaosFlagsSchema.safeParse({
      ...flags,
      serverRestarts: '1',
      longOutages: '2',
      faults: 'on',
      keep: false,
    });
    assert.deepEqual(
      result.error?.issues.map((i) => i.message),
      ['--long-outages must be at most --server-restarts (1)']
    );
  });

  it('document --coexist, its flags, what is not injected, and an example in --help', () => {
    let help = '';
    buildChaosProgram()
      .configureOutput({ writeOut: (text) => (help += text) })
      .outputHelp();
    for (const text of [
      '--coexist',
      '--receiver-kills',
      '--server-restarts',
      '--long-outages',
      '--coexist-rounds',
      'reconciliation audit',
      'chaos --coexist:',
    ])
      assert.ok(help.includes(text), text);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseZimPlanOptions, zimPlanArgs } from '../../src/cli/import-options';
import { emulatorCallsLine, emulatorPlanFor, rehearsalRates, verifyLine } from '../../src/cli/rehearsal-settings';
import { ZimCode } from '../../src/zim-client';
import { defaultBudget } from '../../src/zim-client/limits';
import { STAGES } from '../../src/shared/stages';
import { emptyCounts, type StageProgress } from '../../src/shared/workflow-api';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T12:00:00Z');

describe('dev: the ZIM plan, the rates and the verify line', () => {
  it("gives the emulator plan's limits, with the retention reaching back to --as-of", () => {
    const settings = parseZimPlanOptions(
      {
        zimPlan: 'enterprise',
        retentionDays: '45',
        maxGroupMembers: '500',
        maxFriends: '100',
        maxBlocks: '50',
        messageBytes: '4096',
        userExtraBytes: '1024',
        asOf: String(NOW - 20 * DAY - 1),
      },
      NOW
    );
    assert.deepEqual(emulatorPlanFor(settings, NOW), {
      plan: 'enterprise',
      limits: {
        retentionDays: 45 + 21,
        maxGroupMembers: 500,
        maxFriendsPerUser: 100,
        maxBlocksPerUser: 50,
        maxMessageBytes: 4096,
        maxExtraBytes: 1024,
      },
    });
    const plain = parseZimPlanOptions({ zimPlan: 'free' }, NOW);
    assert.equal(emulatorPlanFor(plain, NOW + 5 * DAY).limits.retentionDays, 7);
  });

  it('hands plan the same settings as flags, every limit spelled out', () => {
    const settings = parseZimPlanOptions({ zimPlan: 'free', maxFriends: '30', asOf: String(NOW) }, NOW);
    const args = zimPlanArgs(settings);
    assert.deepEqual(args.slice(0, 4), ['--zim-plan', 'free', '--retention-days', '7']);
    assert.equal(args[args.indexOf('--max-friends') + 1], '30');
    assert.equal(args[args.indexOf('--as-of') + 1], String(NOW));
    assert.ok(!zimPlanArgs(parseZimPlanOptions({ zimPlan: 'pro' })).includes('--as-of'));
  });

  it('--rate raises app-wide budgets and limits only: per-group budgets stay at 1/s', () => {
    const r = rehearsalRates(200);
    assert.equal(r.budgets.ImportPeerMsg, 200);
    assert.equal(r.emulatorPerSecond.InviteUsersIntoGroup, 200);
    for (const action of ['InviteUsersIntoGroup', 'SetGroupMembersNickname'] as const) {
      assert.equal(defaultBudget(action).perKey, true);
      assert.equal(r.budgets[action], undefined, action);
      assert.ok(!r.planArgs.includes(`${action}=200`), action);
    }
    assert.ok(r.planArgs.includes('ImportGroupMsg=200'));
    assert.deepEqual(rehearsalRates(20).budgets, {});
  });

  it('ends with a verify line: all matched, some differ, or not run', () => {
    const stages = (verify: Partial<StageProgress>): StageProgress[] =>
      STAGES.map((stage) => ({ stage, status: 'done', ...emptyCounts(), ...(stage === 'verify' ? verify : {}) }));
    const report = 'zim-migrate report r/staging.sqlite --name rehearsal';
    assert.equal(
      verifyLine({ status: 'completed', stages: stages({ planned: 1234, done: 1234 }) }, report),
      'Verify: 1,234 checks, all matched'
    );
    assert.equal(
      verifyLine({ status: 'completed', stages: stages({ planned: 1234, done: 1231, failed: 3 }) }, report),
      `Verify: 3 of 1,234 checks differ: see ${report}`
    );
    assert.match(
      verifyLine({ status: 'cancelled', stages: stages({ status: 'cancelled' }) }, report),
      /^Verify: not run to its end \(the migration is cancelled\)/
    );
  });

  it('closes with the emulator\'s calls and its "too frequent" answers, the worst Actions first', () => {
    assert.equal(
      emulatorCallsLine({ calls: { ImportPeerMsg: 2_000, UserRegister: 1 }, refusalsByAction: {} }),
      'ZIM emulator: 2,001 calls, 0 answered "too frequent" (0.00%)'
    );
    assert.equal(
      emulatorCallsLine({
        calls: { ImportPeerMsg: 2_000, ImportGroupMsg: 500 },
        refusalsByAction: {
          ImportPeerMsg: { [ZimCode.APP_RATE_LIMITED]: 4, [ZimCode.SERVER_BUSY]: 9 },
          ImportGroupMsg: { [ZimCode.APP_RATE_LIMITED]: 1 },
        },
      }),
      'ZIM emulator: 2,500 calls, 5 answered "too frequent" (0.20%): ImportPeerMsg 4 of 2,000, ImportGroupMsg 1 of 500'
    );
  });
});

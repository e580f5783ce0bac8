import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RATES, PER_GROUP_ACTIONS } from '../../src/plan/actions';
import { MIGRATION_ACTIONS, STAGE_ACTIONS, STAGE_DEPENDENCIES, STAGES } from '../../src/shared/stages';

describe('the stage graph', () => {
  it('lists every stage after its dependencies', () => {
    STAGES.forEach((stage, i) => {
      for (const dep of STAGE_DEPENDENCIES[stage]) assert.ok(STAGES.indexOf(dep) < i, `${stage} before ${dep}`);
    });
  });

  it('gives each ZIM Action to one stage (the member list to groups and verify), and the plan a default rate for each', () => {
    const all = STAGES.flatMap((s) => STAGE_ACTIONS[s]);
    const shared = all.filter((a, i) => all.indexOf(a) !== i);
    assert.deepEqual(shared, ['QueryGroupMemberList']);
    assert.deepEqual([...MIGRATION_ACTIONS].sort(), [...new Set(all)].sort());
    for (const action of MIGRATION_ACTIONS) assert.ok(DEFAULT_RATES[action] > 0, action);
    assert.deepEqual([...PER_GROUP_ACTIONS].sort(), ['InviteUsersIntoGroup', 'SetGroupMembersNickname']);
    assert.equal(DEFAULT_RATES.SetGroupMembersNickname, 1);
  });
});

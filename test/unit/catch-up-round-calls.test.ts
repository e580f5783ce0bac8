import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareWithNeeded, runCatchUpBench } from '../../src/benchmarks/catch-up-round-calls';
import type { RoundAction } from '../../src/catch-up/difference';
import { callsNeeded } from '../../src/synthetic/evolve-calls';
import { emptyEvolveRecord, type EvolveRecord } from '../../src/synthetic/evolve-record';
import { tempDir } from '../helpers/exports';

/** Each kind of change evolve records, and the Action that carries it to ZIM. */
const CARRIED_BY: [keyof EvolveRecord, RoundAction][] = [
  ['usersAdded', 'UserRegister'],
  ['profilesChanged', 'ModifyUserInfo'],
  ['friendsAdded', 'AddFriends'],
  ['friendsRemoved', 'DeleteFriends'],
  ['blocksAdded', 'AddUsersToBlacklist'],
  ['blocksRemoved', 'RemoveUsersFromBlacklist'],
  ['groupsCreated', 'CreateGroup'],
  ['groupsDismissed', 'DismissGroup'],
  ['groupsDataChanged', 'UpdateGroupData'],
  ['groupsAttributesChanged', 'ModifyGroupAttribute'],
  ['ownersTransferred', 'TransferGroupOwner'],
  ['membersJoined', 'InviteUsersIntoGroup'],
  ['membersLeft', 'KickoutGroupUser'],
  ['rolesChanged', 'SetGroupMemberRole'],
  ['nicknamesChanged', 'SetGroupMembersNickname'],
  ['peerMessagesAdded', 'ImportPeerMsg'],
  ['groupMessagesAdded', 'ImportGroupMsg'],
];

describe('bench:catch-up at a tiny size', () => {
  for (const incremental of [false, true])
    it(`plans exactly the calls the changes need, Action by Action (${incremental ? 'incremental' : 'full'} export)`, async () => {
      const r = await runCatchUpBench({
        dir: tempDir('bench-catch-up'),
        messages: 4000,
        changed: 0.05,
        seed: 3,
        incremental,
      });
      assert.deepEqual(r.planned.mismatches, [], 'the round plans what the changes need, no more, no less');
      // Attributes change in some of the changed groups only (by chance): every other kind is there.
      for (const [kind, action] of CARRIED_BY.filter(([k]) => k !== 'groupsAttributesChanged')) {
        assert.ok((r.prepared.later.record[kind] as unknown[]).length > 0, `evolve made ${kind}`);
        assert.ok(r.needed[action] > 0, `${action} is needed`);
      }
      assert.ok(r.dryRun.seconds > 0 && r.dryRun.peakRssMb > 0, 'the dry run is timed and its memory sampled');
      assert.ok(
        r.dryRun.phases.some((p) => p.startsWith('catch-up: difference')),
        'the difference is a phase of its own'
      );

      // A round that ignored one kind of change would plan fewer calls than needed: the comparison names the Action.
      for (const [kind, action] of CARRIED_BY.filter(([, a]) => r.needed[a] > 0)) {
        const without = { ...r.prepared.later.record, [kind]: [] };
        const wrong = compareWithNeeded(callsNeeded(without), r.needed);
        assert.ok(
          wrong.mismatches.some((m) => m.action === action && m.made < m.needed),
          `ignoring ${kind} shows as ${action}`
        );
      }
    });

  it('reports any Action whose calls differ from what its changes need, with the ratio', () => {
    const needed = {
      ...callsNeeded({
        ...emptyEvolveRecord(),
        peerMessagesAdded: [{ from: 'a', to: 'b', deletedBy: [] }],
      }),
    };
    const made = { ...needed, ImportPeerMsg: needed.ImportPeerMsg + 1, ModifyUserInfo: 1 };
    const { mismatches, rows } = compareWithNeeded(made, needed);
    assert.deepEqual(
      mismatches.map((m) => [m.action, m.made, m.needed, m.ratio]),
      [
        ['ModifyUserInfo', 1, 0, Infinity],
        ['ImportPeerMsg', 3, 2, 1.5],
      ]
    );
    assert.equal(rows.find((x) => x.action === 'CreateGroup')!.ratio, 1, 'no calls, none needed: 1');
  });
});

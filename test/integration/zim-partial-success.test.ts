/**
 * Random batches against a reference model: whatever mix of new, existing, duplicate, malformed and unknown ids a
 * batch holds, the emulator's partial-success answer (Code 0 + list, or Code≠0 + full list) and the client's
 * normalised failures agree with the model, item by item, and the stored state is exactly what succeeded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ZimCode, outcomeOfCode } from '../../src/zim-client';
import { rawCall, registerUsers, useZimTestEnv } from '../helpers/zim';

const POOL = Array.from({ length: 10 }, (_, i) => `p${i}`);
const MALFORMED: Array<[string, number]> = [
  ['x'.repeat(33), ZimCode.USER_ID_TOO_LONG],
  ['bad/id', ZimCode.PARAM_INVALID],
  ['', ZimCode.PARAM_INVALID],
];
const malformedCode = new Map(MALFORMED);
const anyId = fc.constantFrom(...POOL, ...MALFORMED.map(([id]) => id));

type Expected = Array<{ id: string; code: number }>;

describe('partial-success answers are consistent for random batches (fast-check)', () => {
  const t = useZimTestEnv();

  /** Checks the client's failures against the model, and the top-level Code through the emulator's counters. */
  async function check(
    call: () => Promise<{ failures: Array<{ id: string; code: number; outcome: string }> }>,
    expected: Expected,
    items: number,
    allFailedCode?: number
  ) {
    const before = t.emulator.counters();
    const { failures } = await call();
    assert.deepEqual(
      failures.map((f) => ({ id: f.id, code: f.code })),
      expected
    );
    for (const f of failures) assert.equal(f.outcome, outcomeOfCode(f.code));
    const after = t.emulator.counters();
    const refusals = (s: typeof after) => Object.values(s.refusals).reduce((a, b) => a + b, 0);
    if (expected.length === items) {
      assert.equal(refusals(after) - refusals(before), 1, 'every item failed: Code≠0');
      if (allFailedCode)
        assert.equal((after.refusals[String(allFailedCode)] ?? 0) - (before.refusals[String(allFailedCode)] ?? 0), 1);
    } else {
      assert.equal(refusals(after), refusals(before), 'at least one item succeeded: Code 0');
    }
  }

  it('UserRegister', async () => {
    await fc.assert(
      fc.asyncProperty(fc.subarray(POOL), fc.array(anyId, { minLength: 1, maxLength: 40 }), async (existing, batch) => {
        t.emulator.reset();
        if (existing.length) await registerUsers(t.client, existing);
        const registered = new Set(existing);
        const expected: Expected = [];
        for (const id of batch) {
          const code = malformedCode.get(id) ?? (registered.has(id) ? ZimCode.USER_ALREADY_EXISTS : 0);
          if (code) expected.push({ id, code });
          else registered.add(id);
        }
        await check(
          () => t.client.userRegister({ UserInfo: batch.map((UserId) => ({ UserId })) }),
          expected,
          batch.length
        );
        assert.deepEqual(new Set(t.emulator.inspect.users().map((u) => u.userId)), registered);
      }),
      { numRuns: 60, seed: 20240601 }
    );
  });

  it('AddUsersToBlacklist', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(POOL.slice(1), { minLength: 1 }),
        fc.subarray(POOL.slice(1)),
        fc.array(anyId, { minLength: 1, maxLength: 20 }),
        async (registeredTargets, preBlocked, batch) => {
          t.emulator.reset();
          await registerUsers(t.client, ['p0', ...registeredTargets]);
          const alreadyBlocked = preBlocked.filter((id) => registeredTargets.includes(id));
          if (alreadyBlocked.length) await t.client.addUsersToBlacklist({ FromUserId: 'p0', UserIds: alreadyBlocked });
          const blocked = new Set(alreadyBlocked);
          const expected: Expected = [];
          for (const id of batch) {
            const code =
              malformedCode.get(id) ??
              (id === 'p0'
                ? ZimCode.BLOCK_SELF
                : !registeredTargets.includes(id)
                  ? ZimCode.USER_NOT_REGISTERED
                  : blocked.has(id)
                    ? ZimCode.ALREADY_BLOCKED
                    : 0);
            if (code) expected.push({ id, code });
            else blocked.add(id);
          }
          await check(
            () => t.client.addUsersToBlacklist({ FromUserId: 'p0', UserIds: batch }),
            expected,
            batch.length,
            ZimCode.BLOCK_FAILED_FOR_ALL
          );
          assert.deepEqual(new Set(t.emulator.inspect.user('p0')!.blocked.map((b) => b.userId)), blocked);
        }
      ),
      { numRuns: 60, seed: 20240602 }
    );
  });

  it('RemoveUsersFromBlacklist', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(POOL.slice(1), { minLength: 1 }),
        fc.subarray(POOL.slice(1)),
        fc.array(anyId, { minLength: 1, maxLength: 20 }),
        async (registeredTargets, preBlocked, batch) => {
          t.emulator.reset();
          await registerUsers(t.client, ['p0', ...registeredTargets]);
          const blocked = new Set(preBlocked.filter((id) => registeredTargets.includes(id)));
          if (blocked.size) await t.client.addUsersToBlacklist({ FromUserId: 'p0', UserIds: [...blocked] });
          const expected: Expected = [];
          for (const id of batch) {
            const code =
              malformedCode.get(id) ??
              (id === 'p0'
                ? ZimCode.BLOCK_SELF
                : !registeredTargets.includes(id)
                  ? ZimCode.USER_NOT_REGISTERED
                  : !blocked.has(id)
                    ? ZimCode.NOT_IN_BLOCKLIST
                    : 0);
            if (code) expected.push({ id, code });
            else blocked.delete(id);
          }
          await check(
            () => t.client.removeUsersFromBlacklist({ FromUserId: 'p0', UserIds: batch }),
            expected,
            batch.length,
            ZimCode.UNBLOCK_FAILED_FOR_ALL
          );
          assert.deepEqual(new Set(t.emulator.inspect.user('p0')!.blocked.map((b) => b.userId)), blocked);
        }
      ),
      { numRuns: 60, seed: 20240603 }
    );
  });

  it('DeleteFriends, two-way and one-way', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(POOL.slice(1), { minLength: 1 }),
        fc.subarray(POOL.slice(1)),
        fc.uniqueArray(anyId, { minLength: 1, maxLength: 20 }),
        fc.constantFrom(0 as const, 1 as const),
        async (registeredTargets, preFriends, batch, DeleteType) => {
          t.emulator.reset();
          await registerUsers(t.client, ['p0', ...registeredTargets]);
          const friends = new Set(preFriends.filter((id) => registeredTargets.includes(id)));
          if (friends.size)
            await t.client.addFriends({ FromUserId: 'p0', FriendInfos: [...friends].map((UserId) => ({ UserId })) });
          const keptBy = new Set(friends); // whose lists still hold p0 (mutual friendship)
          const expected: Expected = [];
          for (const id of batch) {
            const code =
              malformedCode.get(id) ??
              (id === 'p0'
                ? ZimCode.USER_IDS_CONTAIN_FROM
                : !registeredTargets.includes(id)
                  ? ZimCode.USER_NOT_REGISTERED
                  : !friends.has(id)
                    ? ZimCode.NOT_A_FRIEND
                    : 0);
            if (code) expected.push({ id, code });
            else {
              friends.delete(id);
              if (DeleteType === 0) keptBy.delete(id);
            }
          }
          await check(
            () => t.client.deleteFriends({ FromUserId: 'p0', UserIds: batch, DeleteType }),
            expected,
            batch.length
          );
          assert.deepEqual(new Set(t.emulator.inspect.user('p0')!.friends.map((f) => f.userId)), friends);
          for (const id of registeredTargets) {
            const holdsP0 = t.emulator.inspect.user(id)!.friends.some((f) => f.userId === 'p0');
            assert.equal(holdsP0, keptBy.has(id), `${id}'s list`);
          }
        }
      ),
      { numRuns: 60, seed: 20240604 }
    );
  });

  it('names the failure list as ZIM does for each endpoint, on the wire', async () => {
    t.emulator.reset();
    await registerUsers(t.client, ['a']);
    await t.client.createGroup({ GroupId: 'g', GroupOwner: 'a' });
    const wire = async (Action: string, body: object) =>
      (await rawCall(t.emulator.url, { query: { Action }, body: JSON.stringify(body) })).json;
    const reg = await wire('UserRegister', { UserInfo: [{ UserId: 'a' }, { UserId: 'b' }] });
    assert.deepEqual(
      [reg.Code, reg.ErrorList],
      [0, [{ UserId: 'a', SubCode: ZimCode.USER_ALREADY_EXISTS, SubMessage: 'user already exists' }]]
    );
    const block = await wire('AddUsersToBlacklist', { FromUserId: 'a', UserIds: ['zz'] });
    assert.deepEqual(
      [block.Code, block.ErrList],
      [ZimCode.BLOCK_FAILED_FOR_ALL, [{ UserId: 'zz', SubCode: ZimCode.USER_NOT_REGISTERED }]]
    );
    const invite = await wire('InviteUsersIntoGroup', { FromUserId: 'a', GroupId: 'g', UserIds: ['b', 'zz'] });
    assert.deepEqual([invite.Code, invite.ErrorUsers], [0, [{ UserId: 'zz', SubCode: ZimCode.USER_NOT_REGISTERED }]]);
    const create = await wire('CreateGroup', { GroupId: 'h', GroupOwner: 'a', UserId: ['zz'] });
    assert.deepEqual(create.ErrorUsers, [{ UserId: 'zz', SubCode: ZimCode.USER_NOT_REGISTERED }]);
    const kick = await wire('KickoutGroupUser', { FromUserId: 'a', GroupId: 'g', UserId: ['zz'] });
    assert.deepEqual(kick.ErrorList, [{ UserId: 'zz', SubCode: ZimCode.NOT_A_GROUP_MEMBER_TO_REMOVE }]);
    const unfriend = await wire('DeleteFriends', { FromUserId: 'a', UserIds: ['zz'], DeleteType: 0 });
    assert.deepEqual(
      [unfriend.Code, unfriend.ErrorList],
      [ZimCode.USER_NOT_REGISTERED, [{ UserId: 'zz', SubCode: ZimCode.USER_NOT_REGISTERED }]]
    );
    const unblock = await wire('RemoveUsersFromBlacklist', { FromUserId: 'a', UserIds: ['zz'] });
    assert.deepEqual(
      [unblock.Code, unblock.ErrList],
      [ZimCode.UNBLOCK_FAILED_FOR_ALL, [{ UserId: 'zz', SubCode: ZimCode.USER_NOT_REGISTERED }]]
    );
    const attributes = await wire('ModifyGroupAttribute', {
      Action: 1,
      FromUserId: 'a',
      GroupId: 'g',
      Attributes: [{ Key: 'nope' }],
    });
    assert.deepEqual(
      [attributes.Code, attributes.FailKeys, attributes.Attributes],
      [0, [{ Key: 'nope', Reason: 'key db-non-existent' }], { Attributes: [] }]
    );
    assert.equal(reg.Message, 'success');
  });
});

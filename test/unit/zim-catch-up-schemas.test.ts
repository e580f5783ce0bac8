/**
 * Request and response schemas of the catch-up Actions (issue #13): what the emulator accepts at its boundary and
 * what the client turns ZIM's answers into.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ZIM_ACTIONS } from '../../src/zim-client/actions';
import { ZIM_BATCH_LIMITS, ZIM_GROUP_RATE_LIMITS, ZIM_RATE_LIMITS, defaultBudget } from '../../src/zim-client/limits';
import { ZIM_REQUEST_SCHEMAS } from '../../src/zim-client/requests';
import { ZIM_RESPONSE_SCHEMAS } from '../../src/zim-client/responses';
import { ZimCode } from '../../src/zim-client/codes';

const accepts = (action: keyof typeof ZIM_REQUEST_SCHEMAS, body: unknown) =>
  ZIM_REQUEST_SCHEMAS[action].safeParse(body).success;

describe('catch-up Action schemas', () => {
  it('knows each Action’s method, failure list and that it changes state', () => {
    assert.deepEqual(
      [ZIM_ACTIONS.DeleteFriends, ZIM_ACTIONS.RemoveUsersFromBlacklist],
      [
        { method: 'POST', failureList: 'ErrorList', mutates: true },
        { method: 'POST', failureList: 'ErrList', mutates: true },
      ]
    );
    for (const a of ['UpdateGroupData', 'ModifyGroupAttribute'] as const)
      assert.deepEqual(ZIM_ACTIONS[a], { method: 'POST', mutates: true });
    assert.deepEqual(ZIM_ACTIONS.TransferGroupOwner, { method: 'GET', mutates: true });
  });

  it('has ZIM’s limits and budgets in limits.ts', () => {
    assert.deepEqual(ZIM_BATCH_LIMITS.DeleteFriends, {
      field: 'UserIds',
      max: 20,
      code: ZimCode.FRIEND_BATCH_TOO_LARGE,
    });
    assert.deepEqual(ZIM_BATCH_LIMITS.RemoveUsersFromBlacklist, {
      field: 'UserIds',
      max: 20,
      code: ZimCode.BLOCK_LIST_TOO_LONG,
    });
    assert.equal(ZIM_RATE_LIMITS.UpdateGroupData.code, ZimCode.GROUP_RATE_LIMITED);
    assert.deepEqual(ZIM_GROUP_RATE_LIMITS.TransferGroupOwner, { perSecond: 1, code: ZimCode.GROUP_RATE_LIMITED });
    assert.deepEqual(defaultBudget('TransferGroupOwner'), { rate: 1, perKey: true });
    assert.deepEqual(defaultBudget('DismissGroup'), { rate: 1, perKey: true });
    for (const a of ['DeleteFriends', 'RemoveUsersFromBlacklist', 'UpdateGroupData', 'ModifyGroupAttribute'])
      assert.deepEqual(defaultBudget(a), { rate: 20 }, a);
  });

  it('DeleteFriends needs DeleteType 0 or 1', () => {
    assert.ok(accepts('DeleteFriends', { FromUserId: 'a', UserIds: ['b'], DeleteType: 0 }));
    assert.ok(accepts('DeleteFriends', { FromUserId: 'a', UserIds: ['b'], DeleteType: 1 }));
    assert.ok(!accepts('DeleteFriends', { FromUserId: 'a', UserIds: ['b'] }));
    assert.ok(!accepts('DeleteFriends', { FromUserId: 'a', UserIds: ['b'], DeleteType: 2 }));
    assert.ok(!accepts('RemoveUsersFromBlacklist', { FromUserId: 'a', UserIds: 'b' }));
  });

  it('UpdateGroupData keeps an absent field absent and an empty one empty', () => {
    const parsed = ZIM_REQUEST_SCHEMAS.UpdateGroupData.parse({ FromUserId: 'a', GroupId: 'g', GroupNotice: '' });
    assert.deepEqual(parsed, { FromUserId: 'a', GroupId: 'g', GroupNotice: '' });
    assert.ok(!('GroupName' in parsed));
    assert.ok(!accepts('UpdateGroupData', { FromUserId: 'a', GroupId: 'g', GroupName: null }));
  });

  it('ModifyGroupAttribute: Action 0 or 1 (optional), Value optional for deletes', () => {
    const body = { FromUserId: 'a', GroupId: 'g', Attributes: [{ Key: 'k' }] };
    assert.ok(accepts('ModifyGroupAttribute', body));
    assert.ok(accepts('ModifyGroupAttribute', { ...body, Action: 1 }));
    assert.ok(!accepts('ModifyGroupAttribute', { ...body, Action: 2 }));
    assert.ok(!accepts('TransferGroupOwner', { FromUserId: 'a', GroupId: 'g' }));
  });

  it('turns the answers into camelCase results', () => {
    assert.deepEqual(ZIM_RESPONSE_SCHEMAS.DeleteFriends.parse({ ErrorList: [{ UserId: 'b', SubCode: 660800034 }] }), {
      failures: [{ id: 'b', code: 660800034, outcome: 'already-exists' }],
    });
    assert.deepEqual(ZIM_RESPONSE_SCHEMAS.RemoveUsersFromBlacklist.parse({ ErrList: null }), { failures: [] });
    assert.deepEqual(
      ZIM_RESPONSE_SCHEMAS.ModifyGroupAttribute.parse({
        FailKeys: [{ Key: 'x', Reason: 'key db-non-existent' }],
        Attributes: { Attributes: [{ Key: 'k', Value: 'v' }] },
      }),
      { failedKeys: [{ key: 'x', reason: 'key db-non-existent' }], attributes: [{ key: 'k', value: 'v' }] }
    );
    assert.deepEqual(ZIM_RESPONSE_SCHEMAS.ModifyGroupAttribute.parse({}), { failedKeys: [], attributes: [] });
    const info = ZIM_RESPONSE_SCHEMAS.QueryGroupInfo.parse({
      GroupId: 'g',
      GroupName: 'n',
      GroupNotice: 'notice',
      GroupDataSeq: 3,
      GroupAttributes: [{ Key: 'k', Value: 'v' }],
      GroupCreateTime: 1000,
      ForbidList: [],
    });
    assert.deepEqual(
      [info.groupName, info.groupNotice, info.groupAvatar, info.groupDataSeq, info.attributes, info.createTime],
      ['n', 'notice', '', 3, [{ key: 'k', value: 'v' }], 1000]
    );
  });
});

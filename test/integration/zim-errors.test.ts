import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { beforeEach, describe, it } from 'node:test';
import {
  ClientCode,
  ZIM_ACTION_NAMES,
  ZIM_ACTIONS,
  ZIM_RATE_LIMITS,
  ZimAlreadyExistsError,
  ZimClient,
  ZimCode,
  ZimError,
  ZimPermanentError,
  ZimRetryableError,
  zimSignature,
  type RetryReason,
} from '../../src/zim-client';
import { APP_ID, rawCall, registerUsers, SECRET, text, useZimTestEnv } from '../helpers/zim';

const DAY = 86_400_000;

async function caught(promise: Promise<unknown>): Promise<ZimError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ZimError, `expected a ZimError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

function assertRetryable(err: ZimError, reason: RetryReason, code: number) {
  assert.ok(err instanceof ZimRetryableError, `${err.name}: ${err.message}`);
  assert.equal(err.reason, reason);
  assert.equal(err.code, code);
  assert.equal(err.outcome, 'retryable');
}

describe('ZIM error families, client against emulator', () => {
  const t = useZimTestEnv();
  const errors: unknown[] = [];
  beforeEach(async () => {
    t.emulator.reset();
    t.emulator.setFaults({});
    t.emulator.configure({ rateLimits: { enabled: false } });
    t.clock.offsetMs = 0;
    await registerUsers(t.client, ['a', 'b']);
  });

  describe('gateway (zim-api.md §9.1–9.2): every refusal is HTTP 200 with a JSON envelope', () => {
    const stale = Math.floor(Date.now() / 1000) - 11 * 60;
    const cases: Array<[string, Record<string, string | undefined>, number]> = [
      ['no Action', { Action: undefined }, ZimCode.ACTION_EMPTY],
      ['an unknown Action', { Action: 'DeleteUser' }, ZimCode.ACTION_UNSUPPORTED],
      ['a malformed AppId', { AppId: 'abc' }, ZimCode.APP_ID_FORMAT],
      ['no Timestamp', { Timestamp: undefined }, ZimCode.TIMESTAMP_EMPTY],
      ['a malformed Timestamp', { Timestamp: '12x' }, ZimCode.TIMESTAMP_FORMAT],
      ['no SignatureNonce', { SignatureNonce: undefined }, ZimCode.NONCE_EMPTY],
      ['no Signature', { Signature: undefined }, ZimCode.SIGNATURE_EMPTY],
      ['no SignatureVersion', { SignatureVersion: undefined }, ZimCode.SIGNATURE_VERSION_EMPTY],
      ['SignatureVersion 1.0', { SignatureVersion: '1.0' }, ZimCode.SIGNATURE_VERSION_UNSUPPORTED],
      ['a wrong Signature', { Signature: '0'.repeat(32) }, ZimCode.SIGNATURE_ERROR],
      [
        'a Timestamp 11 minutes old (correctly signed)',
        { Timestamp: String(stale), SignatureNonce: 'n1', Signature: zimSignature(APP_ID, 'n1', SECRET, stale) },
        ZimCode.SIGNATURE_EXPIRED,
      ],
      [
        'another AppId (correctly signed)',
        { AppId: '7', SignatureNonce: 'n2', Signature: zimSignature(7, 'n2', SECRET, Math.floor(Date.now() / 1000)) },
        ZimCode.SIGNATURE_ERROR,
      ],
    ];
    for (const [name, query, code] of cases) {
      it(`refuses ${name} with ${code}`, async () => {
        const { status, json } = await rawCall(t.emulator.url, { query });
        assert.equal(status, 200);
        assert.equal(json.Code, code);
        assert.match(String(json.RequestId), /^\d+$/);
      });
    }

    it('accepts the signed call itself, and refuses a wrong method or a broken body with 660000002', async () => {
      // Past the gateway: QueryUserInfos of an unknown user fails item by item.
      assert.equal((await rawCall(t.emulator.url)).json.Code, ZimCode.USER_NOT_REGISTERED);
      assert.equal((await rawCall(t.emulator.url, { method: 'GET' })).json.Code, ZimCode.PARAM_INVALID);
      assert.equal((await rawCall(t.emulator.url, { body: '{"UserIds":' })).json.Code, ZimCode.PARAM_INVALID);
      assert.equal((await rawCall(t.emulator.url, { body: '{"UserIds":"a"}' })).json.Code, ZimCode.PARAM_INVALID);
    });

    it('reports a wrong ServerSecret and clock skew as permanent errors through the client', async () => {
      const wrong = t.newClient({ serverSecret: 'not-the-secret' });
      const bad = await caught(wrong.queryUserInfos({ UserIds: ['a'] }));
      assert.ok(bad instanceof ZimPermanentError && bad.code === ZimCode.SIGNATURE_ERROR);
      t.clock.offsetMs = 11 * 60_000;
      const skewed = await caught(t.client.queryUserInfos({ UserIds: ['a'] }));
      assert.ok(skewed instanceof ZimPermanentError && skewed.code === ZimCode.SIGNATURE_EXPIRED);
      errors.push(bad, skewed);
    });
  });

  describe('rate limits over a one-second window (§9.3)', () => {
    beforeEach(() => {
      t.emulator.configure({ rateLimits: { enabled: true } });
      t.clock.freeze();
    });

    for (const action of ZIM_ACTION_NAMES) {
      const { perSecond, code } = ZIM_RATE_LIMITS[action];
      it(`${action}: ${perSecond} calls per second per app, then ${code}`, async () => {
        const call = () =>
          rawCall(t.emulator.url, { method: ZIM_ACTIONS[action].method, query: { Action: action }, body: '{}' });
        for (let i = 0; i < perSecond; i++) assert.notEqual((await call()).json.Code, code);
        assert.equal((await call()).json.Code, code);
        t.clock.advance(1000);
        assert.notEqual((await call()).json.Code, code);
      });
    }

    it('keeps budgets per Action, and reports a hit as retryable rate-limited carrying the code', async () => {
      for (let i = 0; i < 20; i++) await t.client.queryUserInfos({ UserIds: ['a'] });
      const limited = await caught(t.client.queryUserInfos({ UserIds: ['a'] }));
      assertRetryable(limited, 'rate-limited', ZimCode.APP_RATE_LIMITED);
      await t.client.queryFriendList({ FromUserId: 'a' });
      errors.push(limited);
    });

    const perGroupCalls = {
      InviteUsersIntoGroup: (GroupId: string) =>
        t.client.inviteUsersIntoGroup({ FromUserId: 'a', GroupId, UserIds: ['b'] }),
      SetGroupMembersNickname: (GroupId: string) =>
        t.client.setGroupMembersNickname({ FromUserId: 'a', GroupId, UserIds: [{ UserId: 'b', Nickname: 'B' }] }),
      // Handing the group to b again is a no-op success, so every call that passes the limit succeeds.
      TransferGroupOwner: (GroupId: string) => t.client.transferGroupOwner({ FromUserId: 'a', GroupId, NewOwner: 'b' }),
    };
    for (const [action, call] of Object.entries(perGroupCalls)) {
      it(`limits ${action} to one call per second per group (660300006)`, async () => {
        const [g1, g2] = [`${action}-1`, `${action}-2`];
        await t.client.createGroup({ GroupId: g1, GroupOwner: 'a', UserId: ['b'] });
        await t.client.createGroup({ GroupId: g2, GroupOwner: 'a', UserId: ['b'] });
        await call(g1);
        assertRetryable(await caught(call(g1)), 'rate-limited', ZimCode.GROUP_RATE_LIMITED);
        await call(g2);
        t.clock.advance(999);
        assertRetryable(await caught(call(g1)), 'rate-limited', ZimCode.GROUP_RATE_LIMITED);
        t.clock.advance(1);
        await call(g1);
      });
    }

    it('uses configured rates and codes', async () => {
      t.emulator.configure({
        rateLimits: { perSecond: { ImportPeerMsg: 2 }, codes: { ImportPeerMsg: ZimCode.OVERLOAD } },
      });
      const imp = () => t.client.importPeerMsg({ FromUserId: 'a', ToUserId: 'b', ImportedUserId: 'a', ...text('x') });
      await imp();
      await imp();
      assertRetryable(await caught(imp()), 'rate-limited', ZimCode.OVERLOAD);
      assert.equal(t.emulator.counters().refusals[String(ZimCode.OVERLOAD)], 1);
      t.emulator.configure({ rateLimits: { perSecond: {}, codes: {} } });
    });
  });

  describe('transport faults', () => {
    const imp = (c: ZimClient = t.client, body = 'x') =>
      c.importPeerMsg({ FromUserId: 'a', ToUserId: 'b', ImportedUserId: 'a', ...text(body, t.clock.now() - DAY) });

    it('reports a reset connection as a retryable network error, with nothing applied', async () => {
      t.emulator.setFaults({ resetRate: 1 });
      const err = await caught(imp());
      assertRetryable(err, 'network', ClientCode.NETWORK);
      assert.deepEqual(t.emulator.inspect.conversation('a', 'b'), undefined);
      assert.equal(t.emulator.counters().faults.reset, 1);
      errors.push(err);
    });

    it('reports HTTP 5xx as a retryable http error with its status', async () => {
      t.emulator.setFaults({ http5xxRate: 1 });
      const err = await caught(imp());
      assertRetryable(err, 'http', ClientCode.HTTP_STATUS);
      assert.equal(err.httpStatus, 502);
      errors.push(err);
    });

    it('reports "server busy" as retryable server-busy carrying code 1', async () => {
      t.emulator.setFaults({ serverBusyRate: 1 });
      assertRetryable(await caught(imp()), 'server-busy', ZimCode.SERVER_BUSY);
    });

    it('answers bursts of "too frequent" with the Action’s own rate-limit code', async () => {
      t.emulator.setFaults({ tooFrequentBurst: { startRate: 1, length: 2 } });
      assertRetryable(await caught(imp()), 'rate-limited', ZimCode.APP_RATE_LIMITED);
      const reg = await caught(t.client.userRegister({ UserInfo: [{ UserId: 'c' }] }));
      assertRetryable(reg, 'rate-limited', ZimCode.USER_REGISTER_RATE_LIMITED);
      assert.equal(t.emulator.counters().faults.tooFrequent, 2);
    });

    it('reports a slow answer as a retryable timeout', async () => {
      t.emulator.setFaults({ latencyMs: 400 });
      const impatient = t.newClient({ requestTimeoutMs: 100 });
      assertRetryable(await caught(imp(impatient)), 'timeout', ClientCode.TIMEOUT);
    });

    it('commit-then-drop: the import is stored, yet the caller sees a network error', async () => {
      t.emulator.setFaults({ commitThenDropRate: 1, actions: ['ImportPeerMsg'] });
      const err = await caught(imp(t.client, 'committed'));
      assertRetryable(err, 'network', ClientCode.NETWORK);
      assert.equal(t.emulator.counters().faults.commitThenDrop, 1);
      // What reconciliation will do: read the newest messages back and find the import.
      t.emulator.setFaults({});
      const [newest] = (await t.client.queryPeerMsg({ FromUserId: 'a', ToUserId: 'b', Limit: 1 })).messages;
      assert.equal(newest?.msgBody, 'committed');
      assert.equal(newest?.msgTime, t.emulator.inspect.conversation('a', 'b')![0]!.time);
    });

    it('applies faults only to the chosen Actions', async () => {
      t.emulator.setFaults({ resetRate: 1, actions: ['ImportGroupMsg'] });
      assert.equal((await imp()).msgSeq, 1);
    });

    it('reports a refused connection as a retryable network error', async () => {
      const nowhere = new ZimClient({ baseUrl: 'http://127.0.0.1:1', appId: APP_ID, serverSecret: SECRET });
      try {
        assertRetryable(await caught(nowhere.queryUserInfos({ UserIds: ['a'] })), 'network', ClientCode.NETWORK);
      } finally {
        await nowhere.close();
      }
    });
  });

  describe('permanent and already-exists answers', () => {
    it('carries ZIM’s code, message, request id and the item for permanent errors', async () => {
      const big = await caught(
        t.client.importPeerMsg({ FromUserId: 'a', ToUserId: 'b', ImportedUserId: 'b', ...text('x'.repeat(2049)) })
      );
      assert.ok(big instanceof ZimPermanentError);
      assert.deepEqual([big.code, big.item], [ZimCode.MESSAGE_TOO_LARGE, 'b']);
      assert.match(big.zimMessage, /2048 bytes/);
      assert.match(big.requestId ?? '', /^\d+$/);
      const unknownSender = await caught(
        t.client.importPeerMsg({ FromUserId: 'ghost', ToUserId: 'b', ImportedUserId: 'b', ...text('x') })
      );
      assert.ok(unknownSender instanceof ZimPermanentError && unknownSender.code === ZimCode.SENDER_NOT_REGISTERED);
      const unknownGroup = await caught(t.client.importGroupMsg({ FromUserId: 'a', GroupId: 'nope', ...text('x') }));
      assert.ok(unknownGroup instanceof ZimPermanentError);
      assert.deepEqual([unknownGroup.code, unknownGroup.item], [ZimCode.GROUP_NOT_FOUND, 'nope']);
      errors.push(big, unknownSender, unknownGroup);
    });

    it('throws ZimAlreadyExistsError for an existing group', async () => {
      await t.client.createGroup({ GroupId: 'g', GroupOwner: 'a' });
      const err = await caught(t.client.createGroup({ GroupId: 'g', GroupOwner: 'b' }));
      assert.ok(err instanceof ZimAlreadyExistsError && err.code === ZimCode.GROUP_EXISTS);
      assert.equal(err.outcome, 'already-exists');
    });

    it('returns the full failure list, not an error, when every item of a batch failed (Code≠0)', async () => {
      const reg = await t.client.userRegister({ UserInfo: [{ UserId: 'a' }, { UserId: 'b' }] });
      assert.deepEqual(
        reg.failures.map((f) => [f.id, f.code, f.outcome]),
        [
          ['a', ZimCode.USER_ALREADY_EXISTS, 'already-exists'],
          ['b', ZimCode.USER_ALREADY_EXISTS, 'already-exists'],
        ]
      );
      assert.equal(t.emulator.counters().refusals[String(ZimCode.USER_ALREADY_EXISTS)], 1, 'top-level Code≠0');
      const blocked = await t.client.addUsersToBlacklist({ FromUserId: 'a', UserIds: ['a', 'ghost'] });
      assert.deepEqual(
        blocked.failures.map((f) => f.code),
        [ZimCode.BLOCK_SELF, ZimCode.USER_NOT_REGISTERED]
      );
      assert.equal(t.emulator.counters().refusals[String(ZimCode.BLOCK_FAILED_FOR_ALL)], 1);
      const friends = await t.client.addFriends({ FromUserId: 'a', FriendInfos: [{ UserId: 'x' }, { UserId: 'y' }] });
      assert.equal(friends.failures.length, 2);
      assert.equal(t.emulator.counters().refusals[String(ZimCode.NO_FRIEND_REGISTERED)], 1);
    });

    it('throws when a batch is refused as a whole (Code≠0, empty list)', async () => {
      const infos = Array.from({ length: 21 }, (_, i) => ({ UserId: `x${i}` }));
      const err = await caught(t.client.addFriends({ FromUserId: 'a', FriendInfos: infos }));
      assert.ok(err instanceof ZimPermanentError && err.code === ZimCode.FRIEND_BATCH_TOO_LARGE);
      const dup = await caught(
        t.client.addFriends({ FromUserId: 'a', FriendInfos: [{ UserId: 'b' }, { UserId: 'b' }] })
      );
      assert.equal(dup.code, ZimCode.DUPLICATE_USER_IDS);
    });
  });

  describe('the ServerSecret', () => {
    it('appears in no error, message, stack, serialisation or client inspection', () => {
      assert.ok(errors.length >= 8, `collected ${errors.length} errors from the families above`);
      for (const err of errors) {
        for (const view of [inspect(err, { depth: 10, showHidden: true }), JSON.stringify(err), String(err)]) {
          assert.ok(!view.includes(SECRET), `secret leaked: ${view.slice(0, 200)}`);
        }
      }
      assert.ok(!inspect(t.client, { depth: 10, showHidden: true }).includes(SECRET));
      assert.ok(!JSON.stringify(t.client).includes(SECRET));
      assert.ok(!JSON.stringify(t.emulator.config()).includes(SECRET));
    });

    it('is not echoed by option validation errors', () => {
      assert.throws(
        () => new ZimClient({ baseUrl: 'ftp://x', appId: -1, serverSecret: SECRET }),
        (e: Error) => !e.message.includes(SECRET) && /baseUrl/.test(e.message)
      );
    });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BodyUse } from '../../src/coexist/coexist-store';
import type { LegacyRoutingEvent } from '../../src/coexist/legacy-contract';
import { normaliseLegacy, normaliseZim, type EchoWay } from '../../src/coexist/receiver/normalise';
import type { ZimCallback } from '../../src/zim-callbacks';

const putBody = async (b: string) => `b:${b.length}`;

function legacyMessage(extra: { originTag?: string; clientMsgId?: string } = {}): LegacyRoutingEvent {
  return {
    eventId: 'e1',
    occurredAt: 5,
    type: 'message.created',
    conversation: { kind: 'peer', users: ['zed', 'amy'] },
    message: { id: 'm1', seq: 3, from: 'zed', body: 'hello', sentAt: 5, ...extra },
  };
}

describe('normalising legacy routing events', () => {
  it('recognises our write by exactly the echo identification the adapter offers', async () => {
    const tagged = { originTag: 'zim-migrate:77', clientMsgId: 'zim:77' };
    const cases: Array<[EchoWay[], { originTag?: string; clientMsgId?: string }, string | undefined]> = [
      [['originTag'], { originTag: tagged.originTag }, '77'],
      [['clientMsgId'], { clientMsgId: tagged.clientMsgId }, '77'],
      [['originTag', 'clientMsgId'], tagged, '77'],
      [['clientMsgId'], { originTag: tagged.originTag }, undefined],
      [['originTag'], { clientMsgId: tagged.clientMsgId }, undefined],
      [['originTag', 'clientMsgId'], { originTag: 'someone-else', clientMsgId: 'other:1' }, undefined],
    ];
    for (const [ways, fields, echoOf] of cases) {
      const [e] = await normaliseLegacy(legacyMessage(fields), ways, putBody);
      assert.equal(e?.echoOf, echoOf, JSON.stringify([ways, fields]));
      assert.equal(e?.kind, echoOf === undefined ? 'message' : 'echo');
      assert.equal(e?.bodyRef === undefined, echoOf !== undefined, 'an echo keeps no body');
    }
  });

  it('keys a one-to-one message by its sorted pair and names the receiver', async () => {
    const [e] = await normaliseLegacy(legacyMessage(), ['clientMsgId'], putBody);
    assert.deepEqual([e?.conv, e?.to, e?.order, e?.eventKey], ['peer:amy:zed', 'amy', 3, 'lg:msg:m1']);
  });
});

const envelope = { appid: '1', nonce: '2', signature: 'x', timestamp: 3 };
function sendMsg(extra: Partial<Extract<ZimCallback, { event: 'send_msg' }>>): ZimCallback {
  return {
    ...envelope,
    event: 'send_msg',
    from_user_id: 'amy',
    conv_type: 0,
    conv_id: 'zed',
    msg_type: 1,
    msg_body: 'hi',
    msg_id: '11',
    msg_seq: 1,
    msg_time: 9,
    send_result: 0,
    ...extra,
  };
}

describe('normalising ZIM callbacks', () => {
  it('a group message goes to the group conversation', async () => {
    const [e] = await normaliseZim(sendMsg({ conv_type: 2, conv_id: 'g1' }), putBody);
    assert.deepEqual([e?.conv, e?.groupId, e?.kind], ['group:g1', 'g1', 'message']);
  });

  it('a server one-to-one send: one echo per receiver in user_list; none when no receiver is named', async () => {
    const server = { source: 1, conv_id: '', payload: '{"_mig":{"lid":"L1"}}' };
    const batch = await normaliseZim(
      sendMsg({
        ...server,
        msg_id: '',
        user_list: [
          { UserId: 'zed', MsgId: '21', MsgSeq: 1 },
          { UserId: 'bob', MsgId: '22', MsgSeq: 1 },
        ],
      }),
      putBody
    );
    assert.deepEqual(
      batch.map((e) => [e.conv, e.kind, e.msgId, e.echoOf]),
      [
        ['peer:amy:zed', 'echo', '21', 'L1'],
        ['peer:amy:bob', 'echo', '22', 'L1'],
      ]
    );
    assert.deepEqual(await normaliseZim(sendMsg(server), putBody), []);
  });

  it('puts a body for the messages that carry it (each receiver of a server send), a group profile for none', async () => {
    const puts: unknown[] = [];
    const record = async (b: string, forMessages?: readonly BodyUse[]) => {
      puts.push([b, forMessages]);
      return `b:${b.length}`;
    };
    await normaliseZim(
      sendMsg({
        source: 0,
        conv_id: '',
        msg_id: '',
        msg_body: 'to two',
        user_list: [
          { UserId: 'zed', MsgId: '21', MsgSeq: 1 },
          { UserId: 'bob', MsgId: '22', MsgSeq: 1 },
          { UserId: '', MsgId: '23', MsgSeq: 1 },
        ],
      }),
      record
    );
    await normaliseZim(sendMsg({ conv_type: 2, conv_id: 'g1', msg_id: '31', msg_body: 'to a group' }), record);
    await normaliseLegacy(legacyMessage(), ['clientMsgId'], record);
    await normaliseLegacy(
      { eventId: 'e2', occurredAt: 7, type: 'group.changed', groupId: 'g3', operator: 'ann', name: 'N' },
      ['originTag'],
      record
    );
    assert.deepEqual(puts, [
      [
        'to two',
        [
          { origin: 'zim', originId: '21' },
          { origin: 'zim', originId: '22' },
        ],
      ],
      ['to a group', [{ origin: 'zim', originId: '31' }]],
      ['hello', [{ origin: 'legacy', originId: 'm1' }]],
      ['{"name":"N"}', undefined],
    ]);
  });

  it('tells an edit (new body, same msg_id) from a redelivery by the body reference in the key', async () => {
    const [a] = await normaliseZim(sendMsg({ msg_body: 'hi' }), putBody);
    const [b] = await normaliseZim(sendMsg({ msg_body: 'hi' }), putBody);
    const [c] = await normaliseZim(sendMsg({ msg_body: 'hi, edited' }), putBody);
    assert.equal(a?.eventKey, b?.eventKey);
    assert.notEqual(a?.eventKey, c?.eventKey);
  });
});

describe('normalising group events', () => {
  const bodies = new Map<string, string>();
  const keep = async (b: string) => {
    const ref = `b:${bodies.size}`;
    bodies.set(ref, b);
    return ref;
  };

  it('ZIM: a join in seconds becomes ms, names its users, and drops the "invalid" operator of a self-join', async () => {
    const [e] = await normaliseZim(
      {
        ...envelope,
        timestamp: '1700000000',
        event: 'group_join',
        group_id: 'g1',
        join_type: 'Apply',
        operator_account: 'invalid',
        new_user_ids: ['cy'],
      },
      keep
    );
    assert.deepEqual(
      [e?.conv, e?.kind, e?.groupEvent, e?.occurredAt, e?.users, e?.operator],
      ['group:g1', 'group', 'joined', 1_700_000_000_000, ['cy'], undefined]
    );
  });

  it('ZIM: a group creation keeps its name in the store, not in the event', async () => {
    const [e] = await normaliseZim(
      {
        ...envelope,
        event: 'group_create',
        group_id: 'g2',
        operator_account: 'dee',
        owner_account: 'dee',
        group_name: 'Secret plans',
        attributes: [],
        user_ids: ['dee', 'eve'],
      },
      keep
    );
    assert.equal(e?.groupEvent, 'created');
    assert.ok(!JSON.stringify(e).includes('Secret plans'));
    assert.deepEqual(JSON.parse(bodies.get(e.bodyRef!)!), { name: 'Secret plans', owner: 'dee' });
  });

  it('legacy: a profile change carries only the fields that changed, by reference', async () => {
    const [e] = await normaliseLegacy(
      { eventId: 'e9', occurredAt: 7, type: 'group.changed', groupId: 'g3', operator: 'ann', notice: 'Quiet please' },
      ['originTag'],
      keep
    );
    assert.deepEqual([e?.conv, e?.groupEvent, e?.operator, e?.occurredAt], ['group:g3', 'changed', 'ann', 7]);
    assert.ok(!JSON.stringify(e).includes('Quiet please'));
    assert.deepEqual(JSON.parse(bodies.get(e!.bodyRef!)!), { notice: 'Quiet please' });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'lossless-json';
import { parseZimJson, stringifyZimJson } from '../../src/zim-client/json';
import { ZIM_RESPONSE_SCHEMAS } from '../../src/zim-client/responses';

const item = (msgId: string, extra = '') =>
  `{"Sender":"a","MsgType":1,"SubMsgType":0,"MsgBody":"hi","MsgId":${msgId},"MsgSeq":1,"Payload":"","MsgTime":1700000000000,"IsEmpty":0${extra}}`;

describe('exact 64-bit MsgId handling', () => {
  it('keeps a MsgId beyond 2^53 exact, where JSON.parse would round it', () => {
    const text = `{"Next":0,"List":[${item('971503777289036701')}]}`;
    assert.notEqual(
      String((JSON.parse(text) as { List: Array<{ MsgId: number }> }).List[0]!.MsgId),
      '971503777289036701'
    );
    const page = ZIM_RESPONSE_SCHEMAS.QueryPeerMsg.parse(parseZimJson(text));
    assert.equal(page.messages[0]!.msgId, '971503777289036701');
    assert.equal(page.next, '0');
  });

  it('accepts small MsgIds and string MsgIds (ImportPeerMsg documents a string)', () => {
    assert.equal(
      ZIM_RESPONSE_SCHEMAS.QueryPeerMsg.parse(parseZimJson(`{"List":[${item('42')}]}`)).messages[0]!.msgId,
      '42'
    );
    assert.deepEqual(ZIM_RESPONSE_SCHEMAS.ImportPeerMsg.parse(parseZimJson('{"MsgId":"6654861479614","MsgSeq":3}')), {
      msgId: '6654861479614',
      msgSeq: 3,
    });
  });

  it('refuses a huge integer where a small number is expected instead of rounding it', () => {
    const text = `{"List":[${item('1').replace('"MsgSeq":1', '"MsgSeq":9007199254740993')}]}`;
    assert.equal(ZIM_RESPONSE_SCHEMAS.QueryPeerMsg.safeParse(parseZimJson(text)).success, false);
  });

  it('keeps an opaque cursor beyond 2^53 exact, both ways', () => {
    const page = ZIM_RESPONSE_SCHEMAS.QueryGroupMsg.parse(parseZimJson('{"Next":18446744073709551615,"List":[]}'));
    assert.equal(page.next, '18446744073709551615');
    assert.equal(stringifyZimJson({ Next: BigInt(page.next) }), '{"Next":18446744073709551615}');
  });

  it('reads every answer the same as the lossless parser, on the fast path and off it', () => {
    for (const text of [
      '{"Code":0,"Message":"success","RequestId":"343649807833778782","MsgId":"6654861479614","MsgSeq":3}',
      `{"Next":0,"List":[${item('42')}]}`,
      `{"Next":0,"List":[${item('971503777289036701')}]}`,
      '{"a":[1.5,-2,1e21,123456789012345],"b":"9007199254740993 in a string"}',
    ])
      assert.deepEqual(
        parseZimJson(text),
        parse(text, null, (n) => {
          const v = Number(n);
          return Number.isSafeInteger(v) || !/^-?\d+$/.test(n) ? v : BigInt(n);
        })
      );
    assert.equal(
      stringifyZimJson({ A: [1, 'x'], B: { Next: 12345678901234567890n } }),
      '{"A":[1,"x"],"B":{"Next":12345678901234567890}}'
    );
  });
});

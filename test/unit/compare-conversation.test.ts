import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareConversation, type ExpectedMessage } from '../../src/verify/compare-conversation';

const staged: ExpectedMessage[] = [
  { sourceId: 'a', from: 'u1', sentTime: 1, type: 1, text: 'hi' },
  { sourceId: 'b', from: 'u2', sentTime: 2, type: 11 },
  { sourceId: 'c', from: 'u1', sentTime: 3, type: 1, text: 'ok' },
];
// What ZIM returns: newest first, media bodies transformed.
const zim = (m: ExpectedMessage) => ({
  sender: m.from,
  msgTime: m.sentTime,
  msgType: m.type,
  msgBody: m.text ?? '%7B%22download_url%22%3A%22...%22%7D',
});
const newestFirst = (list: ExpectedMessage[]) => list.map(zim).reverse();

describe('compareConversation', () => {
  it('matches an exact copy, ignoring transformed media bodies', () => {
    const check = compareConversation(staged, newestFirst(staged));
    assert.equal(check.match, true);
    assert.deepEqual([check.missing, check.duplicated, check.unexpected, check.outOfOrder], [[], [], 0, false]);
    assert.equal(check.expectedHash, check.actualHash);
  });

  it('names lost and duplicated messages by source id', () => {
    const check = compareConversation(staged, newestFirst([staged[0]!, staged[0]!, staged[2]!]));
    assert.equal(check.match, false);
    assert.deepEqual(check.missing, ['b']);
    assert.deepEqual(check.duplicated, ['a']);
  });

  it('counts messages nobody staged and detects a reordering', () => {
    const extra = { sourceId: 'x', from: 'u9', sentTime: 9, type: 1, text: 'spam' };
    assert.equal(compareConversation(staged, newestFirst([...staged, extra])).unexpected, 1);
    const swapped = compareConversation(staged, newestFirst([staged[1]!, staged[0]!, staged[2]!]));
    assert.deepEqual([swapped.match, swapped.outOfOrder], [false, true]);
  });

  it('detects changed text', () => {
    const check = compareConversation(staged, newestFirst([staged[0]!, staged[1]!, { ...staged[2]!, text: 'OK' }]));
    assert.deepEqual([check.match, check.missing, check.unexpected], [false, ['c'], 1]);
  });
});

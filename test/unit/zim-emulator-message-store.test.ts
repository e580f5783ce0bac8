import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MSG_ID_BASE, MessageStore, newConversationLog, type NewMessage } from '../../src/zim-emulator/message-store';

const msg = (time: number, body = `m@${time}`): NewMessage => ({
  sender: 1,
  time,
  msgType: 1,
  subMsgType: 0,
  priority: 1,
  body,
});

const times = (store: MessageStore, entries: number[]) => entries.map((i) => store.time(i));

describe('MessageStore', () => {
  it('gives MsgSeq 1, 2, 3... per conversation in arrival order and unique MsgIds beyond 2^53', () => {
    const store = new MessageStore();
    const a = newConversationLog();
    const b = newConversationLog();
    const seqs = [store.append(a, msg(10)), store.append(b, msg(10)), store.append(a, msg(11))];
    assert.deepEqual(
      seqs.map((s) => s.seq),
      [1, 1, 2]
    );
    const ids = seqs.map((s) => store.msgId(s.index));
    assert.equal(new Set(ids).size, 3);
    for (const id of ids) assert.ok(id >= MSG_ID_BASE && id > BigInt(Number.MAX_SAFE_INTEGER));
  });

  it('sorts a late-arriving older message into place, keeping seq in arrival order', () => {
    const store = new MessageStore();
    const log = newConversationLog();
    for (const t of [10, 30, 20, 30, 5]) store.append(log, msg(t));
    assert.deepEqual(times(store, log.entries), [5, 10, 20, 30, 30]);
    assert.deepEqual(
      log.entries.map((i) => store.seq(i)),
      [5, 1, 3, 2, 4]
    );
    assert.equal(store.newestTime(log), 30);
  });

  it('pages newest first from a position, and finds a message position by (time, seq)', () => {
    const store = new MessageStore();
    const log = newConversationLog();
    for (let t = 1; t <= 7; t++) store.append(log, msg(t));
    const first = store.pageNewestFirst(log, log.entries.length, 3, () => true);
    assert.deepEqual(times(store, first.indices), [7, 6, 5]);
    assert.equal(first.more, true);
    const from = store.positionOf(log, first.indices[2]!);
    assert.equal(from, 4);
    const second = store.pageNewestFirst(log, from, 3, (i) => store.time(i) !== 3);
    assert.deepEqual(times(store, second.indices), [4, 2, 1]);
    assert.equal(second.more, false);
    assert.equal(store.positionOf(newConversationLog(), first.indices[0]!), -1);
  });

  it('grows past its initial capacity without losing data', () => {
    const store = new MessageStore();
    const log = newConversationLog();
    for (let i = 0; i < 10_000; i++) store.append(log, msg(i, `body ${i}`));
    assert.equal(store.count, 10_000);
    assert.deepEqual(store.get(9_999), {
      index: 9_999,
      seq: 10_000,
      sender: 1,
      time: 9_999,
      msgType: 1,
      subMsgType: 0,
      priority: 1,
      body: 'body 9999',
      extendedData: undefined,
      searchedContent: undefined,
    });
  });
});

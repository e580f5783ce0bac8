import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { LandedMark } from '../../activities/contract';
import {
  importMessageExactlyOnce,
  type LedgerEntry,
  type MessageImportPorts,
  type StagedMessage,
} from '../../activities/message-import';

type Fault = 'ok' | 'commit-then-drop' | 'drop-before-commit';

/** One owner's staged messages against a fake ZIM conversation store that can fail in both ambiguous ways. */
function world(messages: StagedMessage[], faults: Fault[] = []) {
  const zim = new Map<string, { sourceId: string; from: string; time: number; type: number; seq: number }[]>();
  const ledger = new Map<string, LedgerEntry>();
  let sends = 0;
  let seqCounter = 0;
  const ports: MessageImportPorts = {
    stage: 'peer-messages',
    message: async (seq) => messages[seq] ?? null,
    count: async () => messages.length,
    ledgerKey: (m) => `owner/${m.sourceId}`,
    ledgerGet: async (key) => ledger.get(key) ?? null,
    ledgerPut: async (key, entry) =>
      void ledger.set(key, { status: entry.status, msgSeq: entry.msgSeq, zimCode: entry.zimCode }),
    newest: async (conversation) => {
      const list = zim.get(conversation) ?? [];
      const last = list[list.length - 1];
      return last ? { sender: last.from, msgTime: last.time, msgType: last.type, msgSeq: last.seq } : null;
    },
    send: async (m) => {
      const fault = faults[sends++] ?? 'ok';
      if (fault === 'drop-before-commit') throw new Error('ECONNRESET');
      if (m.type === 2) return { kind: 'refused', code: 660000002, message: 'signaling messages cannot be imported' };
      const list = zim.get(m.conversation) ?? [];
      list.push({ sourceId: m.sourceId, from: m.from, time: m.sentTime, type: m.type, seq: ++seqCounter });
      zim.set(m.conversation, list);
      if (fault === 'commit-then-drop') throw new Error('socket hang up');
      return { kind: 'landed', msgSeq: seqCounter, msgId: String(seqCounter) };
    },
  };
  /** Drives every message like the owner's child workflow does, retrying each activity until it completes. */
  const runAll = async () => {
    let prev: LandedMark | null = null;
    const results = [];
    for (let seq = 0; ; seq++) {
      for (let attempt = 0; ; attempt++) {
        assert.ok(attempt < 50, 'too many attempts');
        try {
          const r = await importMessageExactlyOnce(ports, seq, prev);
          results.push(r);
          if (r.landed) prev = r.landed;
          break;
        } catch {
          // Temporal retries the activity.
        }
      }
      if (!results[results.length - 1]!.hasMore) break;
    }
    return results;
  };
  return { ports, zim, ledger, runAll, sends: () => sends };
}

const msg = (sourceId: string, conversation: string, sentTime: number, type = 1, from = 'owner'): StagedMessage => ({
  sourceId,
  conversation,
  from,
  sentTime,
  type,
});

describe('importMessageExactlyOnce', () => {
  it('imports, records the outcome, and never calls ZIM again for a recorded message', async () => {
    const w = world([msg('m1', 'bob', 1000), msg('m2', 'bob', 2000)]);
    const results = await w.runAll();
    assert.deepEqual(
      results.map((r) => [r.done, r.calls, r.hasMore]),
      [
        [1, 1, true],
        [1, 1, false],
      ]
    );
    const again = await importMessageExactlyOnce(w.ports, 0, null);
    assert.equal(again.done, 1);
    assert.equal(again.calls, 0);
    assert.equal(w.sends(), 2);
  });

  it('does not import twice when ZIM committed and the connection dropped', async () => {
    const w = world([msg('m1', 'bob', 1000)], ['commit-then-drop']);
    const [r] = await w.runAll();
    assert.equal(w.zim.get('bob')!.length, 1);
    assert.equal(w.sends(), 1, 'the retry reconciled instead of sending');
    assert.deepEqual([r!.done, r!.calls], [1, 1]);
  });

  it('re-sends when the connection dropped before ZIM committed', async () => {
    const w = world([msg('m1', 'bob', 1000)], ['drop-before-commit']);
    await w.runAll();
    assert.deepEqual(
      w.zim.get('bob')!.map((m) => m.sourceId),
      ['m1']
    );
    assert.equal(w.sends(), 2);
  });

  it('tells identical consecutive messages apart by MsgSeq', async () => {
    // Same sender, time and type twice: only MsgSeq distinguishes "the second one landed" from "only the first did".
    const w = world([msg('a', 'bob', 5000), msg('b', 'bob', 5000)], ['ok', 'drop-before-commit']);
    await w.runAll();
    assert.deepEqual(
      w.zim.get('bob')!.map((m) => m.sourceId),
      ['a', 'b']
    );
  });

  it('records a refusal as failed with its code and moves on', async () => {
    const w = world([msg('sig', 'bob', 1000, 2), msg('ok', 'bob', 2000)]);
    const results = await w.runAll();
    assert.deepEqual(
      results.map((r) => [r.done, r.failed]),
      [
        [0, 1],
        [1, 0],
      ]
    );
    assert.deepEqual(w.ledger.get('owner/sig'), { status: 'failed', msgSeq: undefined, zimCode: 660000002 });
  });

  it('skips a message planning marked as refused, without calling ZIM', async () => {
    const w = world([{ ...msg('old', 'bob', 1), skipReason: 'older than the 30-day retention window' }]);
    const [r] = await w.runAll();
    assert.equal(r!.skipped, 1);
    assert.equal(w.sends(), 0);
  });

  it('lands every message exactly once, in order, under any pattern of ambiguous failures', async () => {
    const messageArb = fc.record({
      conversation: fc.constantFrom('bob', 'carol'),
      sentTime: fc.integer({ min: 1, max: 5 }), // few distinct times: many identical-looking neighbours
      from: fc.constantFrom('owner', 'peer'),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(messageArb, { minLength: 1, maxLength: 25 }),
        fc.array(fc.constantFrom<Fault>('ok', 'ok', 'commit-then-drop', 'drop-before-commit'), { maxLength: 80 }),
        async (raw, faults) => {
          // Staging orders an owner's copy by (peer, time); source ids are unique.
          const messages = raw
            .map((m, i) => msg(`s${i}`, m.conversation, m.sentTime, 1, m.from))
            .sort((a, b) => a.conversation.localeCompare(b.conversation) || a.sentTime - b.sentTime);
          const w = world(messages, faults);
          await w.runAll();
          for (const conversation of ['bob', 'carol']) {
            const expected = messages.filter((m) => m.conversation === conversation).map((m) => m.sourceId);
            assert.deepEqual(
              (w.zim.get(conversation) ?? []).map((m) => m.sourceId),
              expected
            );
          }
        }
      ),
      { numRuns: 300 }
    );
  });
});

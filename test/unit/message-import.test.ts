import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { LandedMark } from '../../activities/contract';
import {
  importMessageExactlyOnce,
  LEASE_MS,
  type MessageImportPorts,
  WAIT_LEASE_MS,
  type MessageToImport,
} from '../../activities/message-import';
import type { Claim, LedgerEntry } from '../../src/staging/migration-store';

type Fault = 'ok' | 'commit-then-drop' | 'drop-before-commit';

/** One owner's staged messages against a fake ZIM conversation store that can fail in both ambiguous ways. */
function world(messages: MessageToImport[], faults: Fault[] = []) {
  const zim = new Map<string, { sourceId: string; from: string; time: number; type: number; seq: number }[]>();
  const ledger = new Map<string, LedgerEntry>();
  /** Leases on pending entries, by the fake clock `now` (sleeping advances it). */
  const leases = new Map<string, { token: string; until: number }>();
  const clock = { now: 0 };
  let sends = 0;
  let seqCounter = 0;
  /** Runs just before the call, after the slot: tests hold an attempt there. */
  let beforeCall: (m: MessageToImport) => Promise<void> = async () => undefined;
  const ports: MessageImportPorts = {
    stage: 'peer-messages',
    message: async (seq) => messages[seq] ?? null,
    count: async () => messages.length,
    ledgerKey: (m) => `owner/${m.sourceId}`,
    claim: async (key, _sourceId, token, leaseMs): Promise<Claim> => {
      const entry = ledger.get(key);
      const lease = leases.get(key);
      if (entry && entry.status !== 'pending') return { claimed: false, current: entry };
      if (entry && lease && lease.token !== token && lease.until > clock.now) return { claimed: false, current: entry };
      ledger.set(key, { ...entry, status: 'pending' });
      leases.set(key, { token, until: clock.now + leaseMs });
      return { claimed: true, previous: entry ?? null };
    },
    renew: async (key, token, leaseMs) => {
      const lease = leases.get(key);
      if (ledger.get(key)?.status !== 'pending' || lease?.token !== token) return false;
      lease.until = clock.now + leaseMs;
      return true;
    },
    release: async (key, token) => {
      const lease = leases.get(key);
      if (lease?.token === token) lease.until = 0;
    },
    sleep: async (ms) => void (clock.now += ms),
    ledgerPut: async (key, entry) => {
      leases.delete(key);
      ledger.set(key, { status: entry.status, msgSeq: entry.msgSeq, zimCode: entry.zimCode });
    },
    newest: async (conversation) => {
      const list = zim.get(conversation) ?? [];
      const last = list[list.length - 1];
      return last ? { sender: last.from, msgTime: last.time, msgType: last.type, msgSeq: last.seq } : null;
    },
    send: async (m, mayCall) => {
      await beforeCall(m);
      if (!(await mayCall())) return 'lease-lost';
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
  let tokens = 0;
  const runAll = async () => {
    let prev: LandedMark | null = null;
    const results = [];
    for (let seq = 0; ; seq++) {
      for (let attempt = 0; ; attempt++) {
        assert.ok(attempt < 50, 'too many attempts');
        try {
          const r = await importMessageExactlyOnce(ports, seq, prev, `attempt-${++tokens}`);
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
  return {
    ports,
    zim,
    ledger,
    clock,
    runAll,
    sends: () => sends,
    holdBeforeCall: (hold: typeof beforeCall) => void (beforeCall = hold),
  };
}

const msg = (sourceId: string, conversation: string, sentTime: number, type = 1, from = 'owner'): MessageToImport => ({
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
    const again = await importMessageExactlyOnce(w.ports, 0, null, 'later');
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

  it('lets a second execution of a step wait for the first one in flight, never sending it twice', async () => {
    // A local activity still waiting for its slot in a workflow task that timed out, and its re-execution in the
    // task that replaced it: the second must not reconcile (nothing landed yet) and send next to the first.
    const w = world([msg('m1', 'bob', 1000)]);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    w.holdBeforeCall(async () => {
      w.holdBeforeCall(async () => undefined);
      await held;
    });
    // The second polls in real turns of the event loop, not on the fake clock: the first's lease stays live.
    w.ports.sleep = () => new Promise((r) => setImmediate(r));
    const first = importMessageExactlyOnce(w.ports, 0, null, 'first');
    await new Promise((r) => setImmediate(r)); // the first has claimed and waits for its slot
    const second = importMessageExactlyOnce(w.ports, 0, null, 'second');
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(w.sends(), 0, 'the second waits while the first holds its lease');
    release();
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual([a.done, b.done, b.calls], [1, 1, 0]);
    assert.equal(w.zim.get('bob')!.length, 1);
  });

  it('takes over from an attempt that died calling, once its call lease ran out, and reconciles', async () => {
    const w = world([msg('m1', 'bob', 1000)]);
    // An attempt claimed, extended its lease to call (mayCall), landed, and died before recording it (SIGKILL).
    await w.ports.claim('owner/m1', 'm1', 'dead', WAIT_LEASE_MS);
    assert.ok(await w.ports.renew('owner/m1', 'dead', LEASE_MS));
    w.zim.set('bob', [{ sourceId: 'm1', from: 'owner', time: 1000, type: 1, seq: 7 }]);
    const startedAt = w.clock.now;
    const r = await importMessageExactlyOnce(w.ports, 0, null, 'next');
    assert.ok(w.clock.now - startedAt >= LEASE_MS, 'it waited out the call lease');
    assert.deepEqual([r.done, r.calls, w.sends()], [1, 1, 0], 'reconciled: landed already, not sent again');
  });

  it("holds the ports' call lease (3 times a shorter client timeout) while calling, and no longer", async () => {
    const w = world([msg('m1', 'bob', 1000)]);
    w.ports.callLeaseMs = 15_000;
    const claims: Claim[] = [];
    const realSend = w.ports.send.bind(w.ports);
    w.ports.send = (m, mayCall) =>
      realSend(m, async () => {
        const ok = await mayCall();
        w.clock.now += 15_000 - 1;
        claims.push(await w.ports.claim('owner/m1', 'm1', 'third', WAIT_LEASE_MS));
        w.clock.now += 2;
        claims.push(await w.ports.claim('owner/m1', 'm1', 'fourth', WAIT_LEASE_MS));
        return ok;
      });
    await importMessageExactlyOnce(w.ports, 0, null, 'caller');
    assert.deepEqual(
      claims.map((c) => c.claimed),
      [false, true],
      'live for the call lease given, then free: a dead caller holds its conversation that long, not LEASE_MS'
    );
  });

  it('takes over within seconds from an attempt that died waiting for its slot (issue #17)', async () => {
    const w = world([msg('m1', 'bob', 1000)]);
    // The attempt claimed and was still waiting for its call slot when its worker was SIGKILLed: it never called
    // (held before the call for good; no renewal comes on the fake clock).
    w.holdBeforeCall(() => {
      w.holdBeforeCall(async () => undefined);
      return new Promise<void>(() => undefined);
    });
    void importMessageExactlyOnce(w.ports, 0, null, 'dead');
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const startedAt = w.clock.now;
    const r = await importMessageExactlyOnce(w.ports, 0, null, 'next');
    const waited = w.clock.now - startedAt;
    assert.ok(waited >= WAIT_LEASE_MS && waited <= WAIT_LEASE_MS + 1_000, `waited ${waited} ms`);
    assert.ok(WAIT_LEASE_MS <= 10_000, 'a dead waiter holds its conversation for seconds, not the call lease');
    assert.deepEqual([r.done, r.calls, w.sends()], [1, 2, 1], 'reconciled (nothing landed), then sent once');
  });

  it('extends its lease to the call lease right before calling', async () => {
    const w = world([msg('m1', 'bob', 1000)]);
    w.holdBeforeCall(async () => {
      w.holdBeforeCall(async () => undefined);
      // While it waits for its slot, the lease is the short one: another attempt may take over after it.
      w.clock.now += WAIT_LEASE_MS + 1;
      assert.equal((await w.ports.claim('owner/m1', 'm1', 'other', WAIT_LEASE_MS)).claimed, true);
    });
    await assert.rejects(importMessageExactlyOnce(w.ports, 0, null, 'waiting'), /lease ran out before the call/);
    // The one that took over calls; once it called, a third attempt finds the call lease live for LEASE_MS.
    let claimDuringCall: Claim | undefined;
    const w2 = world([msg('m2', 'bob', 1000)]);
    const realSend = w2.ports.send.bind(w2.ports);
    w2.ports.send = (m, mayCall) =>
      realSend(m, async () => {
        const ok = await mayCall();
        w2.clock.now += LEASE_MS - 1;
        claimDuringCall = await w2.ports.claim('owner/m2', 'm2', 'third', WAIT_LEASE_MS);
        return ok;
      });
    await importMessageExactlyOnce(w2.ports, 0, null, 'caller');
    assert.equal(claimDuringCall?.claimed, false, 'no other attempt reconciles while the call may be in flight');
    assert.equal(w2.sends(), 1);
  });

  it('does not call once its lease was taken over', async () => {
    const w = world([msg('m1', 'bob', 1000)]);
    w.holdBeforeCall(async () => {
      w.clock.now += WAIT_LEASE_MS + 1; // stalled past its lease while waiting for the slot...
      await w.ports.claim('owner/m1', 'm1', 'other', WAIT_LEASE_MS); // ...and another attempt took over
    });
    await assert.rejects(importMessageExactlyOnce(w.ports, 0, null, 'stalled'), /lease ran out before the call/);
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

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyCallbackSignature, type CallbackPayload } from '../../src/zim-callbacks';
import { CallbacksSchema, ZEGO_RETRY_DELAYS_MS, type CallbacksInput } from '../../src/zim-emulator/callback-config';
import { CallbackDispatcher, type CallbackTransport } from '../../src/zim-emulator/callback-dispatcher';
import { Counters } from '../../src/zim-emulator/counters';

interface Attempt {
  at: number;
  body: Record<string, unknown>;
}

/** A dispatcher posting to a fake transport that answers with `statuses` in turn (the last one repeats). */
function dispatcher(config: CallbacksInput, answer: (n: number) => number | 'throw' = () => 200) {
  const attempts: Attempt[] = [];
  const counters = new Counters();
  const transport: CallbackTransport = (_url, body) => {
    attempts.push({ at: performance.now(), body: JSON.parse(body) as Record<string, unknown> });
    const status = answer(attempts.length);
    return status === 'throw' ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve(status);
  };
  const d = new CallbackDispatcher(
    { url: 'http://127.0.0.1:9/cb', ...config },
    { appId: 1234, serverSecret: 'server-secret', clock: Date.now, counters, transport }
  );
  return { d, attempts, counters };
}

const msg = (n: number): CallbackPayload => ({ event: 'send_msg', fields: { msg_id: String(n), msg_body: `m${n}` } });

describe('callback delivery (coexistence.md §3.3)', () => {
  it("defaults to ZEGO's schedule: 5 retries, 2/4/8/16/32 s apart (about 62 s), 3 s per attempt", () => {
    const c = CallbacksSchema.parse({});
    assert.deepEqual(c.retryDelaysMs, [...ZEGO_RETRY_DELAYS_MS]);
    assert.equal(
      c.retryDelaysMs.reduce((a, b) => a + b, 0),
      62_000
    );
    assert.equal(c.attemptTimeoutMs, 3_000);
    assert.equal(c.url, undefined, 'callbacks are off until a URL is given');
  });

  it('retries a non-2xx answer or a network error after each delay, then delivers', async () => {
    const { d, attempts, counters } = dispatcher({ retryDelaysMs: [30, 60, 90] }, (n) =>
      n === 1 ? 500 : n === 2 ? 'throw' : 204
    );
    void d.emit([msg(1)]);
    await d.idle();
    assert.equal(attempts.length, 3);
    assert.ok(attempts[1]!.at - attempts[0]!.at >= 25, 'first retry waits the first delay');
    assert.ok(attempts[2]!.at - attempts[1]!.at >= 55, 'second retry waits the second delay');
    const [record] = d.log();
    assert.deepEqual(record!.attempts, [500, 'error', 204]);
    assert.equal(record!.outcome, 'delivered');
    const c = counters.snapshot().callbacks;
    assert.deepEqual([c.emitted, c.attempts, c.retried, c.delivered, c.dropped], [1, 3, 2, 1, 0]);
  });

  it('drops a callback once every retry of the schedule failed', async () => {
    const { d, attempts, counters } = dispatcher({ retryDelaysMs: [5, 5, 5, 5, 5] }, () => 500);
    void d.emit([msg(1)]);
    await d.idle();
    assert.equal(attempts.length, 6, 'the first attempt and five retries');
    assert.equal(d.log({ outcome: 'dropped' }).length, 1);
    assert.equal(counters.snapshot().callbacks.dropped, 1);
    assert.equal(counters.snapshot().callbacks.delivered, 0);
  });

  it('signs each attempt with the callback secret (the ServerSecret unless one is set), fresh per attempt', async () => {
    const { d, attempts } = dispatcher({ retryDelaysMs: [1], secret: 'callback-secret' }, (n) => (n === 1 ? 503 : 200));
    void d.emit([msg(7)]);
    await d.idle();
    for (const { body } of attempts) {
      assert.equal(body.appid, '1234');
      assert.equal(typeof body.nonce, 'string');
      assert.equal(body.event, 'send_msg');
      assert.equal(body.msg_id, '7');
      const parts = { timestamp: body.timestamp as number, nonce: body.nonce as string };
      assert.ok(verifyCallbackSignature('callback-secret', { ...parts, signature: body.signature as string }));
      assert.equal(verifyCallbackSignature('server-secret', { ...parts, signature: body.signature as string }), false);
    }
    assert.notEqual(attempts[0]!.body.nonce, attempts[1]!.body.nonce);

    const same = dispatcher({ retryDelaysMs: [1], switches: { freshSignaturePerAttempt: false } }, (n) =>
      n === 1 ? 503 : 200
    );
    void same.d.emit([msg(8)]);
    await same.d.idle();
    assert.equal(same.attempts[0]!.body.nonce, same.attempts[1]!.body.nonce);
    const { signature, timestamp, nonce } = same.attempts[0]!.body as {
      signature: string;
      timestamp: number;
      nonce: string;
    };
    assert.ok(verifyCallbackSignature('server-secret', { signature, timestamp, nonce }));
  });

  it('sends nothing without a URL or for an event not enabled; group_join can carry its other documented name', async () => {
    const off = dispatcher({});
    off.d.configure({ url: null });
    void off.d.emit([msg(1)]);
    await off.d.idle();
    assert.equal(off.attempts.length, 0);

    const some = dispatcher({ events: ['group_join'], switches: { groupJoinEventName: 'Apply_join_group' } });
    void some.d.emit([msg(1), { event: 'group_join', fields: { group_id: 'g' } }]);
    await some.d.idle();
    assert.deepEqual(
      some.attempts.map((a) => a.body.event),
      ['Apply_join_group']
    );
  });
});

describe('callback faults (coexistence.md §6.6), seeded', () => {
  const faults = {
    seed: 42,
    duplicateRate: 0.2,
    reorderRate: 0.2,
    lossRate: 0.1,
    duplicateDelayMs: 1,
    reorderDelayMs: 5,
  };

  async function run(seed: number) {
    const { d, attempts, counters } = dispatcher({ retryDelaysMs: [], faults: { ...faults, seed } });
    for (let n = 1; n <= 200; n++) void d.emit([msg(n)]);
    await d.idle();
    const fate = d
      .log()
      .map((r) => `${r.duplicateOf ? `dup${r.duplicateOf}` : (r.fields.msg_id as string)}:${r.outcome}:${r.reordered}`);
    return { fate, attempts, counters: counters.snapshot().callbacks };
  }

  it('gives the same faults for the same seed and sequence, and others for another seed', async () => {
    const a = await run(42);
    const b = await run(42);
    const c = await run(43);
    assert.deepEqual(a.fate, b.fate);
    assert.notDeepEqual(a.fate, c.fate);
  });

  it('loses, duplicates and holds back callbacks at about the configured rates, and counts them', async () => {
    const { counters, attempts } = await run(42);
    assert.equal(counters.emitted, 200);
    assert.ok(counters.lost >= 8 && counters.lost <= 35, `lost ${counters.lost}`);
    assert.ok(counters.duplicated >= 20 && counters.duplicated <= 60, `duplicated ${counters.duplicated}`);
    assert.ok(counters.reordered >= 20 && counters.reordered <= 60, `reordered ${counters.reordered}`);
    assert.equal(counters.delivered, 200 - counters.lost + counters.duplicated);
    const ids = attempts.map((a) => Number(a.body.msg_id));
    const copies = new Map<number, number>();
    for (const id of ids) copies.set(id, (copies.get(id) ?? 0) + 1);
    assert.equal([...copies.values()].filter((n) => n === 2).length, counters.duplicated);
    assert.equal(200 - copies.size, counters.lost, 'a lost callback is never attempted');
    assert.ok(
      ids.some((id, i) => i > 0 && id < ids[i - 1]!),
      'held-back callbacks arrive after later ones'
    );
  });
});

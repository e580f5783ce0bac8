/**
 * Three separate OS processes share one Action's budget through the call schedule in PostgreSQL, two of them with
 * their wall clocks off by seconds. A recorder on loopback (standing in for ZIM) collects every call with the time
 * the schedule recorded its send (the database's clock): no sliding 1-s window holds more than the budget, and the
 * budget is used (≥ 97%) while there is work. When each process sent and when the recorder received are printed:
 * they add this machine's scheduling jitter after the send (tens of ms under load), which the schedule's headroom
 * and adaptive headroom absorb at ZIM.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { budgetUse, maxInWindow, recordCalls } from '../../src/benchmarks/call-recorder';
import { PgCallScheduler } from '../../src/rate-limit/pg-call-scheduler';
import { useLocalPostgres } from '../helpers/local-postgres';

describe('three processes share one budget through PostgreSQL', () => {
  const pg = useLocalPostgres();

  it('never more than the budget in any 1-s window, at least 97% of it used, under clock skew', async () => {
    const appId = 4242;
    const rate = 20;
    const perProcess = 80;
    const setup = await PgCallScheduler.open(pg.open(), { appId });
    await setup.setRate('ImportPeerMsg', rate);
    const calls = await recordCalls(
      [0, 7_000, -3_000].map((skew) => ({
        env: { ...pg.env(), CLOCK_SKEW_MS: String(skew) },
        args: ['postgres', String(appId), 'ImportPeerMsg', String(perProcess), '6'],
      }))
    );
    assert.equal(calls.length, 3 * perProcess);
    assert.equal(new Set(calls.map((c) => c.pid)).size, 3, 'every process made calls');
    const recorded = calls.map((c) => c.recordedAt);
    const most = maxInWindow(recorded, 1000);
    const use = budgetUse(recorded, rate);
    const sent = maxInWindow(
      calls.map((c) => c.sentAt),
      1000
    );
    const arrived = maxInWindow(
      calls.map((c) => c.arrivedAt),
      1000
    );
    console.log(
      `3 processes: ${calls.length} calls, ${(use * 100).toFixed(1)}% of ${rate}/s; most in a 1-s window: ` +
        `${most} recorded, ${sent} sent, ${arrived} arrived`
    );
    assert.ok(most <= rate, `at most ${rate} calls in any 1-s window, got ${most}`);
    assert.ok(use >= 0.97, `budget use ${(use * 100).toFixed(1)}% (≥ 97%)`);
    // The skewed processes' calls are recorded on the same timeline as the others': no clock moved them.
    const span = (Math.max(...recorded) - Math.min(...recorded)) / 1000;
    assert.ok(span < (calls.length / rate) * 1.1, `one timeline: ${span.toFixed(1)} s for ${calls.length} calls`);
    await new Promise((r) => setTimeout(r, 1_100 - (Date.now() % 1000))); // counts cover whole seconds
    assert.equal((await setup.sentInWindow(60_000)).ImportPeerMsg, calls.length, 'the schedule counted every send');
  });
});

import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  EXTRA_HEADROOM_DECAY_MS,
  countRefusal,
  extraHeadroomAt,
  RESERVE_AHEAD_MS,
  sendWindow,
  SqliteCallScheduler,
} from '../../src/rate-limit/call-scheduler';
import { readCallSchedule } from '../../src/rate-limit/read-call-schedule';

/** A scheduler on a fake clock: sleeping advances time, so tests are exact and instant. */
function fakeClockScheduler(file = ':memory:', headroom = 0) {
  let now = 1_000_000;
  const scheduler = new SqliteCallScheduler(file, {
    appId: 1,
    headroom,
    now: () => now,
    sleep: async (ms) => {
      if (ms > 0) now += ms;
    },
  });
  return { scheduler, advance: (ms: number) => (now += ms), now: () => now };
}

describe('SqliteCallScheduler', () => {
  it('spaces calls one interval apart at the budget, with no burst after idle time', async () => {
    const { scheduler, advance } = fakeClockScheduler();
    const slots: number[] = [];
    for (let i = 0; i < 5; i++) slots.push(await scheduler.acquire('ImportPeerMsg'));
    assert.deepEqual(
      slots.map((s) => s - slots[0]!),
      [0, 50, 100, 150, 200]
    );
    advance(10_000); // idle: the next call goes now, and the one after still waits a full interval
    const a = await scheduler.acquire('ImportPeerMsg');
    const b = await scheduler.acquire('ImportPeerMsg');
    assert.equal(b - a, 50);
  });

  it('keeps headroom below the budget', async () => {
    const { scheduler } = fakeClockScheduler(':memory:', 0.02);
    const a = await scheduler.acquire('UserRegister');
    const b = await scheduler.acquire('UserRegister');
    assert.ok(Math.abs(b - a - 1000 / (20 * 0.98)) < 1e-9);
  });

  it('applies per-group budgets per group and app-wide budgets across keys', async () => {
    const { scheduler } = fakeClockScheduler();
    const g1a = await scheduler.acquire('InviteUsersIntoGroup', 'g1');
    const g2a = await scheduler.acquire('InviteUsersIntoGroup', 'g2');
    const g1b = await scheduler.acquire('InviteUsersIntoGroup', 'g1');
    assert.equal(g2a, g1a, 'another group need not wait');
    assert.equal(g1b - g1a, 1000, 'the same group waits a second');
    const x = await scheduler.acquire('CreateGroup', 'g1');
    const y = await scheduler.acquire('CreateGroup', 'g2');
    assert.equal(y - x, 50, 'app-wide budgets ignore the key');
  });

  it('takes a budget change at the next reservation and counts calls and refusals', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'schedule-')), 'b.sqlite');
    const { scheduler, now } = fakeClockScheduler(file);
    await scheduler.acquire('AddFriends');
    await scheduler.setRate('AddFriends', 5);
    const a = await scheduler.acquire('AddFriends');
    const b = await scheduler.acquire('AddFriends');
    assert.equal(b - a, 200);
    await scheduler.backOff('AddFriends', undefined, 1000);
    const c = await scheduler.acquire('AddFriends');
    assert.ok(c - b >= 1000, 'a "too frequent" answer pushes the next call back');
    const [row, ...others] = readCallSchedule(file, 1, now());
    // One refusal is within the allowance (at 5/s it holds 1.5): it leaves no more of the budget unused.
    assert.equal(row!.extraHeadroom, 0);
    assert.deepEqual(
      { ...row, nextFreeAt: undefined, extraHeadroom: undefined },
      {
        action: 'AddFriends',
        rate: 5,
        perKey: false,
        calls: 4,
        refusals: 1,
        keys: 1,
        nextFreeAt: undefined,
        extraHeadroom: undefined,
      }
    );
    assert.deepEqual(others, []);
    await assert.rejects(() => scheduler.setRate('AddFriends', 0), /positive number/);
  });

  it('holds back a send that would put N + 1 calls into one window after a caller woke late', async () => {
    let now = 1_000_000;
    let lateBy = 300;
    const scheduler = new SqliteCallScheduler(':memory:', {
      appId: 1,
      headroom: 0,
      now: () => now,
      sleep: async (ms) => {
        if (ms <= 0) return;
        now += ms + lateBy; // the first caller that waits wakes 300 ms after its slot, the others on time
        lateBy = 0;
      },
    });
    await scheduler.setRate('AddFriends', 2); // slots 500 ms apart; at most 2 sends in any 1000 ms
    const sent: number[] = [];
    for (let i = 0; i < 4; i++) sent.push((await scheduler.acquire('AddFriends')) - 1_000_000);
    // The second woke at 800 instead of 500; the third's slot (1000) is fine, the fourth's (1500) would be the
    // third send since 800, so it waits until 1800.
    assert.deepEqual(sent, [0, 800, 1000, 1800]);
  });

  it('leaves more of the budget unused after "too frequent" answers, and less again as they stop', async () => {
    const { scheduler, advance } = fakeClockScheduler(':memory:', 0.02);
    const gap = async () => -(await scheduler.acquire('ImportPeerMsg')) + (await scheduler.acquire('ImportPeerMsg'));
    assert.ok(Math.abs((await gap()) - 1000 / (20 * 0.98)) < 1e-6, 'the configured headroom alone');
    // At 20/s the allowance holds 6 refusals (0.1% of five minutes' calls): they add nothing, the next three 1% each.
    for (let i = 0; i < 6; i++) await scheduler.backOff('ImportPeerMsg', undefined, 0);
    advance(1_000);
    assert.ok(Math.abs((await gap()) - 1000 / (20 * 0.98)) < 0.01, '6 refusals: within the allowance');
    for (let i = 0; i < 3; i++) await scheduler.backOff('ImportPeerMsg', undefined, 0);
    advance(1_000);
    assert.ok(Math.abs((await gap()) - 1000 / (20 * 0.95)) < 0.01, '3 refusals more: 3% more unused');
    for (let i = 0; i < 20; i++) await scheduler.backOff('ImportPeerMsg', undefined, 0);
    advance(1_000);
    assert.ok(Math.abs((await gap()) - 1000 / (20 * 0.88)) < 0.05, 'at most 10% more');
    advance(EXTRA_HEADROOM_DECAY_MS * 10);
    assert.ok(Math.abs((await gap()) - 1000 / (20 * 0.98)) < 1e-6, 'decayed back after ten minutes');
    assert.ok(Math.abs(extraHeadroomAt(0.05, 0, EXTRA_HEADROOM_DECAY_MS * 2) - 0.03) < 1e-12);
  });

  it('lets refusals within 0.1% of the calls pass without headroom, and adds it for each beyond', () => {
    const raises = (refusalSeconds: number[], rate: number) => {
      let bucket = { level: 0, at: 0 };
      let added = 0;
      for (const s of refusalSeconds) {
        const r = countRefusal(bucket.level, bucket.at, s * 1000, rate);
        bucket = { level: r.level, at: s * 1000 };
        if (r.addHeadroom) added++;
      }
      return added;
    };
    // The nine refusals of bench:makespan's first minute at its 50/s budget (2026-12-08): within five minutes' 0.1%
    // (15).
    assert.equal(raises([8, 8, 13, 16, 23, 28, 31, 47, 61], 50), 0);
    // One refusal every 10 s at 50/s is 0.2% of the calls: the bucket fills in about 5 minutes, then each adds.
    const steady = Array.from({ length: 60 }, (_, i) => i * 10);
    assert.ok(raises(steady.slice(0, 25), 50) === 0, 'not before the bucket is full');
    assert.ok(raises(steady, 50) >= 20, `${raises(steady, 50)} of 60 added headroom`);
    // One every 30 s is below 0.1% at 50/s: it never adds.
    assert.equal(
      raises(
        Array.from({ length: 60 }, (_, i) => i * 30),
        50
      ),
      0
    );
    // A per-group budget of 1/s lets one refusal pass, and a second soon after adds.
    assert.equal(raises([0], 1), 0);
    assert.equal(raises([0, 5], 1), 1);
  });

  it('counts sends per second for the rates an operator sees', async () => {
    const { scheduler, advance } = fakeClockScheduler(':memory:', 0);
    for (let i = 0; i < 30; i++) await scheduler.acquire('ImportPeerMsg'); // 20/s: 1.5 s of sends
    await scheduler.acquire('InviteUsersIntoGroup', 'g1');
    advance(1_000);
    assert.deepEqual(await scheduler.sentInWindow(10_000), { ImportPeerMsg: 30, InviteUsersIntoGroup: 1 });
    advance(60_000);
    assert.deepEqual(await scheduler.sentInWindow(30_000), {});
  });

  it('reserves no further than RESERVE_AHEAD_MS ahead, and a caller waiting its turn gives up when told to', async () => {
    const scheduler = new SqliteCallScheduler(':memory:', { appId: 1, headroom: 0 });
    try {
      await scheduler.setRate('DeleteFriends', 2);
      const first = scheduler.acquire('DeleteFriends');
      const second = scheduler.acquire('DeleteFriends');
      const third = scheduler.acquire('DeleteFriends'); // its turn waits until the second's slot is 250 ms away
      const stop = new AbortController();
      const behind = scheduler.acquire('DeleteFriends', undefined, stop.signal);
      const asked = Date.now();
      stop.abort(new Error('attempt cancelled'));
      await assert.rejects(behind, /attempt cancelled/);
      assert.ok(Date.now() - asked < 100, 'it did not wait for the turn before its own');
      // Each reserved when the slot before was under RESERVE_AHEAD_MS away: 500 ms apart (2/s), and the one after
      // the third takes the turn given up.
      const fourth = scheduler.acquire('DeleteFriends');
      const times = await Promise.all([first, second, third, fourth]);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      assert.ok(
        gaps.every((g) => g >= 499 && g < 600),
        `gaps ${gaps.join(', ')}`
      );
      assert.ok(RESERVE_AHEAD_MS < 500);
    } finally {
      await scheduler.close();
    }
  });

  it('lets two processes sharing one schedule file send evenly spaced, never N + 1 in one window', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'sched-')), 'budget.sqlite');
    const runChild = () =>
      new Promise<number[]>((resolve, reject) => {
        const child = fork(path.join(__dirname, '../helpers/scheduler-child.ts'), [file, '30'], {
          execArgv: ['--import', 'tsx'],
        });
        child.once('message', (m) => resolve(m as number[]));
        child.once('error', reject);
        child.once('exit', (code) => code !== 0 && reject(new Error(`child exited ${code}`)));
      });
    const [a, b] = await Promise.all([runChild(), runChild()]);
    const all = [...a, ...b].sort((x, y) => x - y);
    assert.equal(all.length, 60);
    const { calls, ms } = sendWindow(20, 0.02);
    for (let i = calls; i < all.length; i++)
      assert.ok(
        all[i]! - all[i - calls]! >= ms - 1,
        `sends ${i - calls} and ${i} are ${all[i]! - all[i - calls]!} ms apart`
      );
    const spread = (all[all.length - 1]! - all[0]!) / (all.length - 1);
    assert.ok(spread >= 1000 / 20, `on average ${spread.toFixed(1)} ms apart: not above the budget`);
  });
});

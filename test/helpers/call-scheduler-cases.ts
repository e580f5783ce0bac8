/**
 * Behaviour every CallScheduler must have, whatever stores it (SQLite, PostgreSQL): run by each engine's test with a
 * store that opens schedulers as separate processes would (each its own connection, one shared schedule). Real
 * clocks (a database's clock cannot be faked), so budgets are set high and tolerances are a few ms.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { maxInWindow } from '../../src/benchmarks/call-recorder';
import type { CallScheduler } from '../../src/rate-limit/call-scheduler';
import type { CallScheduleRow } from '../../src/rate-limit/read-call-schedule';

export interface SchedulerStore {
  /** A scheduler of `appId` on the shared schedule, as another process would open it. */
  open(appId: number): Promise<CallScheduler>;
  read(appId: number): Promise<CallScheduleRow[]>;
}

let nextApp = 1000;

export function callSchedulerCases(store: () => SchedulerStore): void {
  const two = async () => {
    const appId = nextApp++;
    return { appId, a: await store().open(appId), b: await store().open(appId) };
  };
  const closeAll = (...s: CallScheduler[]) => Promise.all(s.map((x) => x.close()));

  it('two schedulers on one schedule never exceed the budget in a 1-s window, and use it', async () => {
    const { a, b } = await two();
    try {
      await a.setRate('AddFriends', 10);
      const start = Date.now();
      const times = await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).acquire('AddFriends')));
      assert.ok(maxInWindow(times, 1000) <= 10, `at most 10 in any second, got ${maxInWindow(times, 1000)}`);
      const took = Math.max(...times) - start;
      // 24 calls at 10/s less 2% headroom: slots 0..23 span 2.35 s; the send check adds nothing on time.
      assert.ok(took >= 2_200 && took < 3_200, `24 calls at 10/s took ${took} ms`);
    } finally {
      await closeAll(a, b);
    }
  });

  it('per-group budgets apply per group, app-wide ones across keys', async () => {
    const { a, b } = await two();
    try {
      const t0 = Date.now();
      const [g1, g2] = await Promise.all([
        a.acquire('InviteUsersIntoGroup', 'g1'),
        b.acquire('InviteUsersIntoGroup', 'g2'),
      ]);
      assert.ok(Math.abs(g1 - g2) < 150, 'another group need not wait');
      const g1b = await b.acquire('InviteUsersIntoGroup', 'g1');
      assert.ok(g1b - g1 >= 990, `the same group waits a second (${g1b - g1} ms)`);
      await a.setRate('CreateGroup', 5);
      const x = await a.acquire('CreateGroup', 'g1');
      const y = await b.acquire('CreateGroup', 'g2');
      assert.ok(y - x >= 190, `app-wide budgets ignore the key (${y - x} ms)`);
      assert.ok(Date.now() - t0 < 3_000);
    } finally {
      await closeAll(a, b);
    }
  });

  it("a budget set by one process paces the other's next reservation", async () => {
    const { a, b } = await two();
    try {
      await b.acquire('AddFriends');
      await a.setRate('AddFriends', 4);
      // Measured from before the first reservation: a send is never before its slot, but one that wakes late
      // narrows its gap to the next, so two sends' times alone cannot show the spacing on a loaded machine.
      const asked = Date.now();
      await b.acquire('AddFriends');
      await b.acquire('AddFriends');
      const third = await b.acquire('AddFriends');
      assert.ok(third - asked >= 500, `three slots 250 ms apart at 4/s (the third after ${third - asked} ms)`);
      await assert.rejects(() => a.setRate('AddFriends', 0), /positive number/);
    } finally {
      await closeAll(a, b);
    }
  });

  it('a raised budget reaches the callers already waiting: at most one more call at the old pace', async () => {
    const { a, b } = await two();
    try {
      await a.setRate('DeleteFriends', 2);
      const start = Date.now();
      const sent: number[] = [];
      // They come one at a time, as pages do, each after the one before has reserved its slot.
      const waiting: Promise<unknown>[] = [];
      for (let i = 0; i < 14; i++) {
        waiting.push(a.acquire('DeleteFriends').then((t) => sent.push(t)));
        await new Promise((r) => setTimeout(r, 10));
      }
      while (sent.length < 2) await new Promise((r) => setTimeout(r, 5));
      await b.setRate('DeleteFriends', 50);
      const raisedAt = Date.now();
      await Promise.all(waiting);
      // At 2/s the last of 14 would go 6.6 s after the first; slots reserved at 2/s before the change would hold
      // them there. Now the third may keep its 2/s slot, and the other 11 go at 50/s (0.2 s).
      const took = Date.now() - raisedAt;
      assert.ok(took < 1_200, `14 calls, 2 of them at 2/s: the rest took ${took} ms after the raise`);
      assert.ok(raisedAt - start >= 450, 'the first two went at 2/s');
    } finally {
      await closeAll(a, b);
    }
  });

  it('a lowered budget reaches the callers already waiting within RESERVE_AHEAD_MS', async () => {
    const { a, b } = await two();
    try {
      await a.setRate('DeleteFriends', 40);
      const sent: number[] = [];
      const waiting = Array.from({ length: 30 }, () => a.acquire('DeleteFriends').then((t) => sent.push(t)));
      while (sent.length < 5) await new Promise((r) => setTimeout(r, 5));
      await b.setRate('DeleteFriends', 4);
      const loweredAt = Date.now();
      setTimeout(() => void a.setRate('DeleteFriends', 1_000), 2_000); // let the rest go: the test measures before
      await Promise.all(waiting);
      // Slots reserved at 40/s before the change: at most RESERVE_AHEAD_MS of them (10) and the one being taken.
      const atOldPace = sent.filter((t) => t > loweredAt && t < loweredAt + 400).length;
      const inTheSecondAfter = sent.filter((t) => t >= loweredAt + 400 && t < loweredAt + 1_400).length;
      assert.ok(atOldPace <= 12, `${atOldPace} calls in the 400 ms after the budget fell to 4/s`);
      assert.ok(inTheSecondAfter <= 5, `${inTheSecondAfter} calls in the second after that, at 4/s`);
    } finally {
      await closeAll(a, b);
    }
  });

  it('"too frequent" from one process holds back the other, and beyond the allowance adds headroom for both', async () => {
    const { appId, a, b } = await two();
    try {
      await a.acquire('AddFriends');
      const t0 = Date.now();
      await a.backOff('AddFriends', undefined, 400);
      const t = await b.acquire('AddFriends');
      assert.ok(t - t0 >= 380, `held back ${t - t0} ms`);
      // At 20/s the allowance lets 6 refusals pass, counted across both processes: the 7th and 8th add 1% each.
      for (let i = 0; i < 5; i++) await b.backOff('AddFriends', undefined, 0);
      let [row] = await store().read(appId);
      assert.equal(row?.refusals, 6);
      assert.equal(row?.extraHeadroom, 0, 'within the allowance');
      await a.backOff('AddFriends', undefined, 0);
      await b.backOff('AddFriends', undefined, 0);
      [row] = await store().read(appId);
      assert.equal(row?.action, 'AddFriends');
      assert.equal(row?.refusals, 8);
      assert.equal(row?.calls, 2);
      assert.ok(Math.abs((row?.extraHeadroom ?? 0) - 0.02) < 0.001, `extra headroom ${row?.extraHeadroom}`);
    } finally {
      await closeAll(a, b);
    }
  });

  it('a live call goes ahead of a backlog of backfill calls, and the window still bounds every second', async () => {
    const { a, b } = await two();
    try {
      await a.setRate('QueryPeerMsg', 10);
      // 20 backfill calls from one process: slots over 2 s.
      const backfill = Array.from({ length: 20 }, () => b.acquire('QueryPeerMsg'));
      await new Promise((r) => setTimeout(r, 300));
      const asked = Date.now();
      const live = await a.acquire('QueryPeerMsg', undefined, undefined, 'live');
      const times = [...(await Promise.all(backfill)), live];
      // Behind the backlog it would wait about 1.7 s; ahead of it, for the window's oldest send to age out.
      assert.ok(live - asked < 400, `the live call waited ${live - asked} ms`);
      assert.ok(maxInWindow(times, 1000) <= 10, `at most 10 in any second, got ${maxInWindow(times, 1000)}`);
      assert.ok(Math.max(...times) > live, 'backfill calls went after it');
    } finally {
      await closeAll(a, b);
    }
  });

  it('counts sends per second for every process', async () => {
    const { a, b } = await two();
    try {
      await a.setRate('ImportPeerMsg', 100);
      await Promise.all([
        ...Array.from({ length: 5 }, () => a.acquire('ImportPeerMsg')),
        ...Array.from({ length: 5 }, () => b.acquire('ImportPeerMsg')),
        a.acquire('InviteUsersIntoGroup', 'g'),
      ]);
      await new Promise((r) => setTimeout(r, 1_100 - (Date.now() % 1000))); // into the next whole second
      assert.deepEqual(await b.sentInWindow(10_000), { ImportPeerMsg: 10, InviteUsersIntoGroup: 1 });
    } finally {
      await closeAll(a, b);
    }
  });
}

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SqliteCallScheduler } from '../../src/rate-limit/call-scheduler';
import { readCallSchedule } from '../../src/rate-limit/read-call-schedule';

describe('readCallSchedule', () => {
  it("reports each Action's budget, calls, refusals and queued slots for one app, without writing", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'schedule-')), 'budgets.sqlite');
    let now = 1_000_000;
    const scheduler = new SqliteCallScheduler(file, { appId: 7, now: () => now, sleep: async () => undefined });
    const other = new SqliteCallScheduler(file, { appId: 8, now: () => now, sleep: async () => undefined });
    await scheduler.setRate('ImportPeerMsg', 10);
    for (let i = 0; i < 3; i++) await scheduler.acquire('ImportPeerMsg');
    await scheduler.acquire('InviteUsersIntoGroup', 'g1');
    await scheduler.acquire('InviteUsersIntoGroup', 'g2');
    // At 10/s the allowance lets 3 refusals pass: the fourth adds headroom.
    for (let i = 0; i < 4; i++) await scheduler.backOff('ImportPeerMsg', undefined, 250);
    await other.acquire('UserRegister');
    now += 10;

    const rows = readCallSchedule(file, 7, now);
    assert.deepEqual(
      rows.map(({ nextFreeAt: _, extraHeadroom: __, ...r }) => r),
      [
        { action: 'ImportPeerMsg', rate: 10, calls: 3, refusals: 4, perKey: false, keys: 1 },
        { action: 'InviteUsersIntoGroup', rate: 1, calls: 2, refusals: 0, perKey: true, keys: 2 },
      ]
    );
    // Three calls at 10/s (98%) leave the next slot ~306 ms after the first; the back-off did not move it further.
    assert.ok(Math.abs(rows[0]!.nextFreeAt! - (1_000_000 + 3 * (1000 / 9.8))) < 1);
    // The fourth "too frequent" answer left 1% more of ImportPeerMsg's budget unused (decaying 1% a minute).
    assert.ok(Math.abs(rows[0]!.extraHeadroom - (0.01 - (10 / 60_000) * 0.01)) < 1e-9, String(rows[0]!.extraHeadroom));
    assert.equal(rows[1]!.extraHeadroom, 0);
    assert.deepEqual(readCallSchedule(file, 7, now), rows, 'reading changes nothing');
    await scheduler.close();
    await other.close();
  });

  it('fails on a missing file instead of creating one', () => {
    assert.throws(
      () => readCallSchedule(path.join(tmpdir(), 'no-such-schedule.sqlite'), 1),
      /unable to open|does not exist/i
    );
  });
});

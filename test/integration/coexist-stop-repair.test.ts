/**
 * `coexist stop` with a gated receiver (as `zim-migrate receiver --sync`): the stop's audit repairs messages whose
 * routing events were lost, after the drain, so the echoes of those repairs reach the receiver while it refuses new
 * events. They are answered 200 (settled in the store, or dropped when their mirror is not recorded SENT yet: one
 * repair's send here is ambiguous, committed with its answer lost) instead of 410, which ZEGO retries about a minute
 * and drops. A user's message, the app backend's own server send and a legacy routing event still get 410.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSync, stopSync } from '../../src/coexist/sync-control';
import { waitFor } from '../helpers/wait-for';
import { count, post } from '../helpers/coexist-sides';
import { useCoexistRig } from '../helpers/coexist-rig';

const SYNC = 'stop-repair';

describe('coexist stop: the echoes of the stop audit’s repairs', { timeout: 120_000 }, () => {
  const rig = useCoexistRig({
    name: 'stop-repair',
    users: ['ann', 'bob', 'cy'],
    worker: { audit: true },
    receiver: { syncName: SYNC, notMirrored: true, settleEchoes: true, gate: true },
  });
  const peer = (other: 'bob' | 'cy') => rig.sides(['ann', other], 'none');
  const callbacksOf = (body: string) =>
    rig.zim.emulator.callbacks.deliveries({ event: 'send_msg' }).filter((d) => d.fields.msg_body === body);

  it('answers them 200, not 410, while a user’s events are still refused', async () => {
    await startSync(rig.t.client, SYNC, rig.worker.taskQueue, { auditEveryMinutes: 0 });
    // Delivered normally, so both conversations are known to the audit.
    for (const other of ['bob', 'cy'] as const) await peer(other).sendLegacy('ann', { to: other }, `ok ${other}`);
    for (const other of ['bob', 'cy'] as const)
      await waitFor(
        `ok ${other} mirrored`,
        async () => count(await peer(other).zimBodies('peer'), `ok ${other}`) === 1
      );
    await rig.zim.emulator.callbacks.idle();
    await rig.legacy.webhook.idle();

    // Lost for good: only the stop's audit brings them across, after the drain.
    await post(`${rig.legacy.url}/_test/webhook`, { lossRate: 1 });
    for (const other of ['bob', 'cy'] as const) await peer(other).sendLegacy('ann', { to: other }, `lost ${other}`);
    await post(`${rig.legacy.url}/_test/webhook`, { lossRate: 0 });
    // The first repair's send commits, then its answer is lost: ambiguous, settled by the tail.
    rig.zim.emulator.setFaults({ seed: 1, actions: ['SendPeerMessage'], commitThenDropRate: 1 });
    const once = setInterval(() => {
      if (rig.zim.emulator.counters().faults.commitThenDrop > 0) rig.zim.emulator.setFaults({ seed: 1 });
    }, 2);
    const before = { ...rig.receiver.counts };
    const stopped = await stopSync(rig.t.client, SYNC).finally(() => clearInterval(once));
    assert.deepEqual([stopped.audits?.found, stopped.audits?.repaired], [2, 2]);
    assert.equal(rig.zim.emulator.counters().faults.commitThenDrop, 1, 'one repair’s send was ambiguous');

    // After the stop: a user's message in ZIM, the app backend's own server send, a legacy message.
    await peer('bob').sendZim('bob', { to: 'ann' }, 'user after the stop');
    await rig.zim.client.sendPeerMessage({
      FromUserId: 'bob',
      ToUserId: ['ann'],
      MessageType: 1,
      Priority: 1,
      MessageBody: { Message: 'backend after the stop' },
    });
    await peer('bob').sendLegacy('ann', { to: 'bob' }, 'legacy after the stop');
    await rig.zim.emulator.callbacks.idle();
    await rig.legacy.webhook.idle();

    for (const other of ['bob', 'cy'] as const) {
      const sides = peer(other);
      assert.equal(count(await sides.zimBodies('peer'), `lost ${other}`), 1, `lost ${other} repaired once`);
      assert.equal(count(await sides.legacyBodies('peer'), `lost ${other}`), 1, `lost ${other} not mirrored back`);
      // The repair's echo: taken at its first attempt (fails without: 410 at every attempt, then dropped).
      assert.deepEqual(
        callbacksOf(`lost ${other}`).map((d) => [d.fields.source, d.attempts, d.outcome]),
        [[1, [200], 'delivered']],
        `the echo of lost ${other}`
      );
    }
    // One settled in the store (its mirror SENT); the ambiguous one's echo came before its tail check settled it,
    // or after (then settled too).
    const delta = (k: string) => (rig.receiver.counts[k] ?? 0) - (before[k] ?? 0);
    assert.equal(
      delta('zim.echo.settled') + delta('zim.echo.dropped-after-drain'),
      2,
      JSON.stringify(rig.receiver.counts)
    );
    assert.equal(delta('zim.echo.hand-off') + delta('legacy.message') + delta('zim.message'), 0);
    // Refused as before (410 at every attempt), and not mirrored.
    for (const body of ['user after the stop', 'backend after the stop']) {
      const [d] = callbacksOf(body);
      assert.ok(d && d.attempts.length > 1 && d.attempts.every((a) => a === 410), `${body}: ${JSON.stringify(d)}`);
    }
    assert.equal(count(await peer('bob').legacyBodies('peer'), 'user after the stop'), 0);
    const legacyAfter = rig.legacy.webhook.log.at(-1);
    assert.deepEqual(legacyAfter?.attempts, [410], 'the legacy event refused once (its sender gives up on 410)');
    assert.equal(count(await peer('bob').zimBodies('peer'), 'legacy after the stop'), 0);
  });
});

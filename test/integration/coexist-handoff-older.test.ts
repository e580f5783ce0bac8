/**
 * The import handoff's drop of a held message older than the imported history's newest, end to end (docs/
 * coexistence.md §10), with a real Temporal server, the receiver taking the reference legacy server's routing
 * webhook, the real staging and its handoff activity: a live legacy message the export left out, older than one it
 * holds, is held, then dropped once the history is imported (not sent to ZIM, counted as dropped) and its body
 * settled, so pruned; the one the history holds is dropped by its id, one newer than the export is mirrored. The
 * import is its ledger rows marked settled (as the migration writes them), which keeps the test to seconds.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { handoffSetting, type HandoffSetting } from '../../src/coexist/handoff-setting';
import type { SyncEvent } from '../../src/coexist/sync-event';
import { openStaging } from '../../src/staging';
import { ledgerKeys } from '../../src/staging/ledger-keys';
import { syncStatsQuery, type SyncStats } from '../../workflows/coexist';
import { useCoexistRig } from '../helpers/coexist-rig';
import { post } from '../helpers/coexist-sides';
import { stageExport, writeExport } from '../helpers/exports';
import { waitFor } from '../helpers/wait-for';

const AB = 'peer:ann:bob';

describe('the import handoff drops a held message older than the history', { timeout: 120_000 }, () => {
  let setting: HandoffSetting;
  const rig = useCoexistRig({
    name: 'handoff-older',
    users: ['ann', 'bob'],
    worker: { handoff: true },
    receiver: {
      settleEchoes: true,
      workflowInput: { settleMs: 200 },
      importHandoff: ({ dir }) => {
        setting = handoffSetting(path.join(dir, 'staging.db'), { checkEveryMs: 300 });
        return () => Promise.resolve(setting);
      },
    },
  });

  const stats = (): Promise<SyncStats> => rig.t.client.workflow.getHandle(`coexist:${AB}`).query(syncStatsQuery);
  const send = (from: string, to: string, body: string) =>
    post(`${rig.legacy.url}/_test/app1/send`, { from, to, body });
  const legacyMessages = () => rig.legacy.store.snapshot().conversations.flatMap((c) => c.messages);

  it('holds it, drops it once imported (not mirrored, counted, its body settled), mirrors the newer one', async () => {
    await send('ann', 'bob', 'A0');
    await new Promise((r) => setTimeout(r, 10));
    await send('bob', 'ann', 'A1');
    await waitFor('both held', async () => (await stats().catch(() => undefined))?.handoff?.held === 2, 20_000);
    const byBody = new Map(legacyMessages().map((m) => [m.body, m]));
    const [a0, a1] = [byBody.get('A0')!, byBody.get('A1')!];
    assert.ok(a0.sentAt < a1.sentAt, 'A0 older than A1');

    // The export holds A1 only (A0 left out of it, as one deleted or of a type not exported): the history's
    // newest is A1, so A0, held and not in the history, is older than it.
    const exportDir = writeExport(path.join(rig.dir, 'export'), {
      'users.ndjson': [{ id: 'ann' }, { id: 'bob' }],
      'peer_messages.ndjson': [
        { id: a1.id, from: 'bob', to: 'ann', sentAt: a1.sentAt, type: 'text', body: { text: 'A1' } },
      ],
    });
    await stageExport(exportDir, setting.staging, Date.now());
    // After the export: newer than the history.
    await send('ann', 'bob', 'A2');
    await waitFor('three held', async () => (await stats()).handoff?.held === 3, 20_000);
    assert.equal((await stats()).mirroredToZim, 0, 'nothing mirrored before the import');

    // The import: the accounts and both owners' copies of A1 settled in the ledger.
    const staging = await openStaging(setting.staging);
    try {
      await staging.ledgerPut('accounts', [
        { key: ledgerKeys.user('ann'), status: 'done' },
        { key: ledgerKeys.user('bob'), status: 'done' },
      ]);
      await staging.ledgerPut('peer-messages', [
        { key: ledgerKeys.message('ann', a1.id), status: 'done' },
        { key: ledgerKeys.message('bob', a1.id), status: 'done' },
      ]);
    } finally {
      await staging.close();
    }
    await waitFor(
      'the handoff settled',
      async () => {
        const s = await stats();
        const h = s.handoff;
        return s.queued === 0 && h !== undefined && h.dropped + h.released === 3 && s.mirroredToZim === h.released;
      },
      20_000,
      async () => JSON.stringify(await stats())
    );

    const s = await stats();
    assert.deepEqual({ ...s.handoff }, { held: 3, dropped: 2, released: 1, parked: 0 });
    assert.deepEqual([s.mirroredToZim, s.alreadyMirrored, s.parkedTotal], [1, 0, 0]);
    const inZim = await rig.zim.client.queryPeerMsg({ FromUserId: 'ann', ToUserId: 'bob', Limit: 100 });
    assert.deepEqual(
      inZim.messages.map((m) => m.msgBody),
      ['A2'],
      'only the message newer than the history sent to ZIM'
    );
    assert.equal(await rig.store.record('legacy', a0.id), null, 'no ledger row: A0 never mirrored');

    // A0's body (its reference from the workflow's signal) is settled by the check that dropped it: pruned.
    const events: SyncEvent[] = [];
    for await (const wf of rig.t.client.workflow.list({ query: `WorkflowId = "coexist:${AB}"` }))
      for (const ev of (await rig.t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()).events ?? [])
        for (const p of ev.workflowExecutionSignaledEventAttributes?.input?.payloads ?? [])
          events.push(defaultPayloadConverter.fromPayload(p));
    const ref = events.find((e) => e.msgId === a0.id)?.bodyRef;
    assert.ok(ref, "A0's body reference");
    await rig.store.pruneBodies(Date.now() + 1);
    await assert.rejects(rig.store.body(ref), "A0's body pruned");
  });
});

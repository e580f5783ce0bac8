/**
 * Coexistence through the CLI, as an operator runs it: `zim-migrate legacy-server` and `zim-migrate receiver
 * --with-worker --sync` as processes, the ZIM emulator and a Temporal dev server beside them, the sync operated
 * with `zim-migrate coexist start|status|stop`. One message each way is mirrored once and status counts it; stop
 * closes the conversation, after which the receiver refuses events (410) and nothing more is mirrored; SIGTERM
 * stops both commands with exit code 0.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { ZimClient } from '../../src/zim-client';
import { startZimEmulator, type ZimEmulator } from '../../src/zim-emulator';
import type { SyncStatus } from '../../src/coexist/sync-control';
import { BIN, exchangeOneEachWay, postOk, startCli, stopChild } from '../helpers/coexist-cli';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';
import { openStaging } from '../../src/staging';
import { ledgerKeys } from '../../src/staging/ledger-keys';
import { stageExport, writeExport } from '../helpers/exports';

const exec = promisify(execFile);

const APP_ID = 5150;
const SERVER_SECRET = '0123456789abcdef0123456789abcdef';

// Each case starts CLI processes and a sync, and stops it (drain, audit): at load average 9 they took 80 and over
// 100 s, past an earlier 180-s limit for both.
describe('zim-migrate legacy-server and receiver --with-worker', { timeout: 420_000 }, () => {
  let t: TemporalTestEnv;
  let emulator: ZimEmulator;
  let zim: ZimClient;
  let dir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cli-coexist-'));
    t = await startTemporalTestEnv();
    emulator = await startZimEmulator({ appId: APP_ID, serverSecret: SERVER_SECRET, rateLimits: { enabled: false } });
    zim = new ZimClient({ baseUrl: emulator.url, appId: APP_ID, serverSecret: SERVER_SECRET });
  });
  after(async () => {
    for (const c of children) await stopChild(c);
    await zim?.close();
    await emulator?.stop();
    await t?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('mirrors a message each way through the commands, shows it in coexist status, stops the sync, then exits', async () => {
    const env = {
      ...process.env,
      LEGACY_API_TOKEN: 'cli-legacy-token',
      LEGACY_WEBHOOK_SECRET: 'cli-webhook-secret',
      ZIM_APP_ID: String(APP_ID),
      ZIM_SERVER_SECRET: SERVER_SECRET,
      ZIM_BASE_URL: emulator.url,
      ZIM_MIGRATE_BUDGET_DB: path.join(dir, 'budgets.sqlite'),
      TEMPORAL_ADDRESS: t.server.address,
    };
    const legacy = startCli(['legacy-server', '--port', '0'], env, /legacy server at (http:\/\/\S+);/);
    children.push(legacy.child);
    const legacyUrl = await legacy.line;
    const receiver = startCli(
      [
        'receiver',
        '--port',
        '0',
        '--legacy-api',
        legacyUrl,
        '--store',
        path.join(dir, 'coexist.sqlite'),
        '--with-worker',
        '--sync',
        'cli-sync',
      ],
      env,
      /listening at (http:\/\/\S+) /
    );
    children.push(receiver.child);
    const receiverUrl = await receiver.line;
    const cli = async (...args: string[]) => (await exec(process.execPath, [BIN, ...args], { env })).stdout;
    assert.match(await cli('coexist', 'start', '--name', 'cli-sync'), /Sync cli-sync started/);
    await assert.rejects(
      exec(process.execPath, [BIN, 'coexist', 'start', '--name', 'cli-sync'], { env }),
      /already running/
    );

    const bodies = await exchangeOneEachWay({
      zim,
      emulator,
      legacyUrl: legacyUrl,
      receiverUrl,
      texts: ['from App 1.0', 'from App 2.0'],
      why: () => receiver.stderr(),
    });
    const want = ['from App 1.0', 'from App 2.0'];

    const store = path.join(dir, 'coexist.sqlite');
    const status = async () =>
      JSON.parse(await cli('coexist', 'status', '--name', 'cli-sync', '--store', store, '--json')) as SyncStatus;
    const running = await status();
    assert.equal(running.state, 'running');
    assert.deepEqual(running.conversations, { open: 1, closed: 0 });
    assert.equal(running.legacyToZim.mirrored, 1);
    assert.equal(running.zimToLegacy.mirrored, 1);
    assert.equal(running.echoesSuppressed, 2, 'each mirror came back once as an echo');
    // Settled by the receiver (the mirror was recorded SENT first) or by the workflow: counted once either way.
    assert.equal(running.echoes.byWorkflows + running.echoes.byReceivers!, 2, JSON.stringify(running.echoes));
    assert.match(
      await cli('coexist', 'status', '--name', 'cli-sync', '--store', store),
      /\n {2}echoes suppressed 2;.*\n {2}echoes settled by the receivers \d \(no Temporal call\), by the conversation workflows \d\n/
    );
    // Without its store, status still answers, and says which figure it lacks.
    assert.match(
      await cli('coexist', 'status', '--name', 'cli-sync', '--store', path.join(dir, 'no-such.sqlite')),
      /echoes settled by the receivers: not counted \(No coexistence store at .*no-such\.sqlite/
    );
    assert.deepEqual([running.parked, running.refused], [0, 0]);
    assert.ok(running.legacyToZim.lagMs.p50! > 0 && running.zimToLegacy.lagMs.p99! >= running.zimToLegacy.lagMs.p50!);
    assert.ok(running.legacyToZim.eventsPerSecond > 0);
    assert.match(await cli('coexist', 'status', '--name', 'cli-sync'), /legacy→ZIM {2}1 mirrored[^]*\n {2}parked 0\n/);

    assert.match(
      await cli('coexist', 'status', '--name', 'cli-sync'),
      /\n {2}divergences 0 found, 0 repaired \(0 audits\)\n/
    );

    // A routing event lost for good before the stop: only the stop's audit brings the message across.
    await postOk(`${legacyUrl}/_test/webhook`, { lossRate: 1 });
    await postOk(`${legacyUrl}/_test/app1/send`, { from: 'ann', to: 'bob', body: 'lost before the stop' });
    await postOk(`${legacyUrl}/_test/webhook`, { lossRate: 0 });
    const stopped = await cli('coexist', 'stop', '--name', 'cli-sync');
    assert.match(stopped, /draining/);
    assert.match(stopped, /audit: 1 divergence found, 1 repaired/);
    // The repair is mirrored (its echo comes after the drain: taken by the receiver, never handed to the workflow).
    // The workflow handled the three mirrors and the echoes the receiver did not settle itself.
    assert.match(
      stopped,
      new RegExp(
        `1 conversation workflows closed after handling ${3 + running.echoes.byWorkflows} events; audit 1 found, 1 repaired`
      )
    );
    want.push('lost before the stop');
    want.sort();
    const listed = await cli('coexist', 'divergences', '--store', store);
    assert.match(listed, /1 divergence in .*\n.*peer:ann:bob {2}legacy message \S+ \(sent .*\) missing on ZIM\n/);
    assert.match(listed, /repaired: \S+, handed to coexist:peer:ann:bob as audit:lg:msg:/);
    const after = await status();
    assert.equal(after.state, 'stopped');
    assert.deepEqual(after.conversations, { open: 0, closed: 1 });
    assert.equal(after.legacyToZim.mirrored, 2, 'counters of closed conversations still count');
    assert.deepEqual([after.divergences.found, after.divergences.repaired], [1, 1]);
    // Stopped: a new message is refused by the receiver (the legacy server gives up on 410) and not mirrored.
    await postOk(`${legacyUrl}/_test/app1/send`, { from: 'ann', to: 'bob', body: 'after the stop' });
    await new Promise((r) => setTimeout(r, 3_000));
    assert.deepEqual((await bodies()).zim, want);
    assert.match(await cli('coexist', 'stop', '--name', 'cli-sync'), /already stopped/);

    assert.equal(await stopChild(receiver.child), 0, receiver.stderr());
    assert.equal(await stopChild(legacy.child), 0, legacy.stderr());
  });
  it('coexist start --handoff: the receiver passes it on, and a conversation holds legacy messages until imported', async () => {
    const staging = path.join(dir, 'handoff-staging.db');
    const env = {
      ...process.env,
      LEGACY_API_TOKEN: 'cli-legacy-token',
      LEGACY_WEBHOOK_SECRET: 'cli-webhook-secret',
      ZIM_APP_ID: String(APP_ID),
      ZIM_SERVER_SECRET: SERVER_SECRET,
      ZIM_BASE_URL: emulator.url,
      ZIM_MIGRATE_BUDGET_DB: path.join(dir, 'budgets-handoff.sqlite'),
      TEMPORAL_ADDRESS: t.server.address,
    };
    const cli = async (...args: string[]) => (await exec(process.execPath, [BIN, ...args], { env })).stdout;
    // A password would be stored in the workflow's memo: refused as bad usage.
    await assert.rejects(
      exec(process.execPath, [BIN, 'coexist', 'start', '--name', 'cli-pw', '--handoff', 'postgres://u:pw@db/zim'], {
        env,
      }),
      (err: { code?: number; stderr?: string }) => err.code === 2 && /holds a password/.test(err.stderr ?? '')
    );
    // Before the export: the staging does not exist yet.
    const started = JSON.parse(
      await cli('coexist', 'start', '--name', 'cli-handoff', '--handoff', staging, '--json')
    ) as { handoff: string };
    assert.equal(started.handoff, staging);

    const legacy = startCli(['legacy-server', '--port', '0'], env, /legacy server at (http:\/\/\S+);/);
    children.push(legacy.child);
    const legacyUrl = await legacy.line;
    const store = path.join(dir, 'coexist-handoff.sqlite');
    const receiver = startCli(
      [
        'receiver',
        '--port',
        '0',
        '--legacy-api',
        legacyUrl,
        '--store',
        store,
        '--with-worker',
        '--sync',
        'cli-handoff',
      ],
      env,
      /listening at (http:\/\/\S+) /
    );
    children.push(receiver.child);
    const receiverUrl = await receiver.line;
    await zim.userRegister({ UserInfo: [{ UserId: 'cat' }, { UserId: 'dan' }] });
    await postOk(`${legacyUrl}/_test/users`, { users: ['cat', 'dan'] });
    await postOk(`${legacyUrl}/_test/webhook`, { url: `${receiverUrl}/legacy/events` });

    const status = async () =>
      JSON.parse(await cli('coexist', 'status', '--name', 'cli-handoff', '--json')) as SyncStatus;
    const waitStatus = async (what: string, ok: (s: SyncStatus) => boolean) => {
      const until = Date.now() + 60_000;
      let s = await status();
      while (!ok(s)) {
        if (Date.now() > until) assert.fail(`${what}: ${JSON.stringify(s)}\n${receiver.stderr()}`);
        await new Promise((r) => setTimeout(r, 500));
        s = await status();
      }
      return s;
    };
    await postOk(`${legacyUrl}/_test/app1/send`, { from: 'cat', to: 'dan', body: 'in the export' });
    await waitStatus('held', (s) => s.handoff?.held === 1 && s.handoff.waiting === 1);

    // The export, staged; then a message it does not hold.
    const res = await request(`${legacyUrl}/_test/state`);
    const state = (await res.body.json()) as {
      conversations: Array<{ messages: Array<{ id: string; from: string; to: string; sentAt: number; body: string }> }>;
    };
    const [exported] = state.conversations[0]!.messages;
    const exportDir = writeExport(path.join(dir, 'handoff-export'), {
      'users.ndjson': [{ id: 'cat' }, { id: 'dan' }],
      'peer_messages.ndjson': [
        {
          id: exported!.id,
          from: exported!.from,
          to: exported!.to,
          sentAt: exported!.sentAt,
          type: 'text',
          body: { text: exported!.body },
        },
      ],
    });
    await stageExport(exportDir, staging, Date.now());
    await postOk(`${legacyUrl}/_test/app1/send`, { from: 'dan', to: 'cat', body: 'after the export' });
    await waitStatus('both held', (s) => s.handoff?.held === 2);
    assert.match(
      await cli('coexist', 'status', '--name', 'cli-handoff'),
      /import handoff: 2 legacy messages held, 0 dropped/
    );
    assert.deepEqual((await zim.queryPeerMsg({ FromUserId: 'cat', ToUserId: 'dan', Limit: 10 })).messages, []);

    // The import settles (its ledger written as the migration writes it): the overlap dropped, the rest mirrored.
    const ledger = await openStaging(staging);
    await ledger.ledgerPut('accounts', [
      { key: ledgerKeys.user('cat'), status: 'done' },
      { key: ledgerKeys.user('dan'), status: 'done' },
    ]);
    await ledger.ledgerPut('peer-messages', [
      { key: ledgerKeys.message('cat', exported!.id), status: 'done' },
      { key: ledgerKeys.message('dan', exported!.id), status: 'done' },
    ]);
    await ledger.close();
    const settled = await waitStatus('released', (s) => s.legacyToZim.mirrored === 1 && s.queued === 0);
    assert.deepEqual(settled.handoff, { held: 2, dropped: 1, released: 1, parked: 0, waiting: 0 });
    const inZim = await zim.queryPeerMsg({ FromUserId: 'cat', ToUserId: 'dan', Limit: 10 });
    assert.deepEqual(
      inZim.messages.map((m) => m.msgBody),
      ['after the export'],
      'the exported one is left to the import'
    );

    await cli('coexist', 'stop', '--name', 'cli-handoff');
    assert.equal(await stopChild(receiver.child), 0, receiver.stderr());
    assert.equal(await stopChild(legacy.child), 0, legacy.stderr());
  });
});

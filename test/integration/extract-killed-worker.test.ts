/**
 * The extract worker SIGKILLed mid-way (a child process) and a new one started: the extraction completes, every
 * record is there exactly once, and no unit that had finished before the kill is fetched again (the emulator counts
 * every request; only the channels in flight at the kill may see a request twice, their last page).
 *
 * The two tests run side by side: each has its own emulator, task queue, workflow and worker processes, and both
 * spend most of their time waiting (on the request pace, on Sendbird's export jobs, on the heartbeat timeout that
 * notices the kill).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSendbirdEmulator, type SendbirdEmulator } from '../../src/sendbird-emulator/server';
import { generateWorkspace } from '../../src/sendbird-emulator/workspace';
import { extractProgressQuery } from '../../src/shared/extract-api';
import { projectRoot } from '../../src/shared/project-root';
import { DEFAULT_MAPPING } from '../../src/sources/sendbird/mapping';
import type { SendbirdExtractConfig } from '../../src/sources/sendbird/units';
import type { extractWorkflow } from '../../workflows/extract';
import { tempDir } from '../helpers/exports';
import { assertMatchesWorkspace } from '../helpers/sendbird';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const TOKEN = 'kill-test-token-0123';

describe('extract worker killed mid-way', { concurrency: true }, () => {
  let t: TemporalTestEnv;
  let emulator: SendbirdEmulator;
  const children: ChildProcess[] = [];
  const ws0 = Date.now() - 10 * 86_400_000;
  const ws = generateWorkspace({ seed: 11, users: 300, messages: 12_000, startMs: ws0 });

  before(async () => {
    t = await startTemporalTestEnv();
    emulator = await startSendbirdEmulator({ workspace: ws, apiToken: TOKEN });
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await emulator?.close();
    await t?.teardown();
  });

  const startWorker = async (taskQueue: string) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot(), 'test', 'helpers', 'extract-worker-child.ts')],
      {
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: t.server.address,
          TASK_QUEUE: taskQueue,
          SENDBIRD_API_TOKEN: TOKEN,
          RPS: '60',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      }
    );
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`worker exited ${code}`)));
    });
    return child;
  };

  it('resumes without fetching a finished unit twice and without duplicates', async () => {
    const taskQueue = 'extract-kill';
    const out = path.join(tempDir('extract-kill'), 'out');
    const config: SendbirdExtractConfig = {
      outDir: out,
      route: { kind: 'api', baseUrl: emulator.url },
      mapping: DEFAULT_MAPPING,
      blocks: true,
    };
    const first = await startWorker(taskQueue);
    const handle = await t.client.workflow.start<typeof extractWorkflow>('extractWorkflow', {
      taskQueue,
      workflowId: 'extract-kill',
      args: [{ config, concurrency: 4, unitsPerRun: 40, heartbeatTimeout: '3 seconds' }],
    });
    for (;;) {
      const p = await handle.query(extractProgressQuery).catch(() => undefined);
      if (p && p.phase === 'messages' && p.channelsDone >= 20) break;
      await sleep(100);
    }
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const unitsDir = path.join(out, '.extract', 'units');
    const doneAtKill = new Set(existsSync(unitsDir) ? readdirSync(unitsDir) : []);
    const requestsAtKill = new Map(emulator.stats.byRequest);
    await startWorker(taskQueue);
    const summary = await handle.result();

    const counts = assertMatchesWorkspace(out, ws, { blocks: true });
    assert.equal(summary.peerMessages + summary.groupMessages, counts.peerMessages + counts.groupMessages);
    // Which channel a repeated request was for; none may belong to a unit that had finished before the kill.
    const channelIndex = new Map(ws.channels.map((c) => [c.channel_url, c]));
    const repeated = [...emulator.stats.byRequest].filter(([, n]) => n > 1).map(([k]) => k);
    const repeatedChannels = new Set<string>();
    for (const key of repeated) {
      const m = /\/v3\/group_channels\/([^/?]+)\/messages/.exec(key);
      assert.ok(m, `only message pages are fetched again after the kill, not ${key}`);
      const url = decodeURIComponent(m[1]!);
      assert.ok(channelIndex.has(url));
      repeatedChannels.add(url);
      // A repeated page was first fetched before the kill by the unit then in flight.
      assert.ok(requestsAtKill.has(key), `${key} was in flight at the kill`);
    }
    assert.ok(repeatedChannels.size <= 4, `at most the 4 channels in flight repeat a page (${repeatedChannels.size})`);
    const finishedBefore = [...doneAtKill].filter((f) => f.startsWith('messages-')).length;
    assert.ok(finishedBefore >= 20, `${finishedBefore} channels had finished before the kill`);
    // No channel that had finished before the kill was fetched again.
    for (const ch of repeatedChannels) {
      const i = ws.channels.findIndex((c) => c.channel_url === ch);
      assert.ok(
        !doneAtKill.has(`messages-${i}.json`),
        `channel #${i} had finished before the kill but was fetched again`
      );
    }
  });

  it('export-jobs route: a worker killed while its jobs are pending resumes polling the same jobs (one creation each)', async () => {
    // Jobs take 6 s in Sendbird here, so the kill lands while they are scheduled or exporting.
    const sb = await startSendbirdEmulator({ workspace: ws, apiToken: TOKEN, exportJobMs: 6000 });
    try {
      const taskQueue = 'extract-kill-jobs';
      const out = path.join(tempDir('extract-kill-jobs'), 'out');
      const day = 86_400_000;
      const fromMs = Math.floor((ws0 - 31 * day) / day) * day;
      const toMs = Math.ceil((Date.now() + day) / day) * day;
      const config: SendbirdExtractConfig = {
        outDir: out,
        route: { kind: 'export-jobs', baseUrl: sb.url, fromMs, toMs, windowDays: 7, pollMs: 200 },
        mapping: DEFAULT_MAPPING,
        blocks: false,
      };
      const first = await startWorker(taskQueue);
      const handle = await t.client.workflow.start<typeof extractWorkflow>('extractWorkflow', {
        taskQueue,
        workflowId: 'extract-kill-jobs',
        // 9 jobs at a time: the 18 (6 windows of 7 days, 3 data types) take two rounds of 6 s, not five.
        args: [{ config, concurrency: 9, heartbeatTimeout: '3 seconds' }],
      });
      while (sb.stats.exportJobsCreated.size < 4) await sleep(50);
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      assert.equal(sb.stats.exportDownloads, 0, 'the kill came while the jobs were pending');
      const pending = [...sb.stats.exportJobsCreated.keys()];
      await startWorker(taskQueue);
      await handle.result();
      const windows = Math.ceil((toMs - fromMs) / (7 * day));
      assert.equal(sb.stats.exportJobsCreated.size, 3 * windows);
      for (const [key, n] of sb.stats.exportJobsCreated) assert.equal(n, 1, `job ${key} created ${n} times`);
      for (const key of pending)
        assert.ok(sb.stats.exportJobsCreated.get(key) === 1, `${key} was resumed, not recreated`);
      assert.equal(sb.stats.exportDownloads, readdirSync(path.join(out, '.extract', 'export-jobs')).length);
      assertMatchesWorkspace(out, ws, { blocks: false });
    } finally {
      await sb.close();
    }
  });
});

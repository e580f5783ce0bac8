/**
 * Every number an operator sees is true: a migration with a pause, watched through `zim-migrate status --json` and
 * the `progress` query at several moments, compared with the ledger in the staging file (as of the moment the
 * migration read it) and with the calls the emulator counted. Also: the ETA over the second half of the run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import type { MigrationHandle } from '../../src/testing/migrate-into-emulator';
import { migrateIntoEmulator } from '../../src/testing/migrate-into-emulator';
import { buildStaging, FAST_BUDGETS, startFastEmulator } from '../../src/testing/migration-rig';
import { pauseSignal, progressQuery, resumeSignal, type MigrationProgress } from '../../src/shared/workflow-api';
import type { ZimEmulator } from '../../src/zim-emulator';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '../../bin/zim-migrate.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The one-to-one stage, the longest, runs at this budget long enough to be watched; the rest at test speed. */
const PEER_RATE = 30;
const BUDGETS = { ...FAST_BUDGETS, ImportPeerMsg: PEER_RATE };

/** Ledger rows per stage settled (done, failed, skipped) no later than `asOf`: the ledger at that moment. */
function ledgerAsOf(stagingPath: string, asOf: number): Map<string, number> {
  const db = new Database(stagingPath, { readonly: true });
  try {
    const rows = db
      .prepare<[number], { stage: string; n: number }>(
        `SELECT stage, count(*) AS n FROM ledger WHERE status <> 'pending' AND at <= ? GROUP BY stage`
      )
      .all(asOf);
    return new Map(rows.map((r) => [r.stage, r.n]));
  } finally {
    db.close();
  }
}

/** The emulator's call counters sampled every 100 ms, to tell how many calls of an Action arrived in a window. */
class CallTimeline {
  private readonly samples: { at: number; calls: Record<string, number> }[] = [];
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly emulator: ZimEmulator) {
    this.take();
    this.timer = setInterval(() => this.take(), 100);
  }
  private take() {
    this.samples.push({ at: Date.now(), calls: { ...(this.emulator.counters().calls as Record<string, number>) } });
  }
  /** At most how many `action` calls arrived in [from, to): from the sample before `from` to the one after `to`. */
  atMost(action: string, from: number, to: number): number {
    const before = [...this.samples].reverse().find((s) => s.at <= from) ?? this.samples[0]!;
    const after = this.samples.find((s) => s.at >= to) ?? this.samples[this.samples.length - 1]!;
    return (after.calls[action] ?? 0) - (before.calls[action] ?? 0);
  }
  stop() {
    clearInterval(this.timer);
  }
}

interface Reading {
  source: 'status --json' | 'progress query';
  p: MigrationProgress;
}

describe('live progress against the ledger and the emulator', () => {
  let t: TemporalTestEnv;
  let staging: Awaited<ReturnType<typeof buildStaging>>;
  before(async () => {
    [t, staging] = await Promise.all([startTemporalTestEnv(), buildStaging(30, 5)]);
  });
  after(async () => {
    await t?.teardown();
  });

  it('shows the ledger, the calls really sent and a steady ETA, during a pause too', async () => {
    const emulator = await startFastEmulator({}, BUDGETS);
    const timeline = new CallTimeline(emulator);
    const stagingPath = staging.fresh();
    const readings: Reading[] = [];
    const etas: { at: number; eta: number }[] = [];
    const env = { ...process.env, TEMPORAL_ADDRESS: t.server.address, TEMPORAL_NAMESPACE: 'default' };
    const status = async (): Promise<MigrationProgress> =>
      JSON.parse(
        (await exec(process.execPath, [BIN, 'status', 'live', '--json'], { env })).stdout
      ) as MigrationProgress;
    const read = async (handle: MigrationHandle) => {
      readings.push({ source: 'progress query', p: await handle.query(progressQuery) });
      readings.push({ source: 'status --json', p: await status() });
    };
    let pausedFor = 0;
    try {
      const result = await migrateIntoEmulator({
        connection: t.server.env.nativeConnection,
        client: t.client,
        emulator,
        stagingPath,
        migrationId: 'live',
        budgets: BUDGETS,
        during: async (handle) => {
          // The ETA every second the migration runs unpaused, with when it was read, until it completes.
          const watchEta = (async () => {
            for (;;) {
              const p = await handle.query(progressQuery).catch(() => undefined);
              if (p?.status === 'completed') return;
              if (p?.status === 'running' && p.etaSeconds !== undefined) etas.push({ at: p.asOf!, eta: p.etaSeconds });
              await sleep(1_000);
            }
          })();
          const peer = async () => (await handle.query(progressQuery)).stages.find((s) => s.stage === 'peer-messages')!;
          while ((await peer()).done < 150) await sleep(250);
          await read(handle);
          await handle.signal(pauseSignal, { reason: 'test pause' });
          const pausedAt = Date.now();
          await sleep(4_000); // calls in flight land, the next reading of the ledger shows them
          for (let i = 0; i < 3; i++) {
            await read(handle);
            await sleep(1_500);
          }
          const paused = readings[readings.length - 1]!.p;
          assert.equal(paused.status, 'paused');
          assert.equal(paused.stages.find((s) => s.stage === 'peer-messages')!.status, 'paused');
          await handle.signal(resumeSignal);
          pausedFor = Date.now() - pausedAt;
          while ((await peer()).done < 600) await sleep(250);
          await read(handle);
          await sleep(3_000);
          await read(handle);
          await watchEta;
        },
      });
      const endedAt = Date.now();
      assert.equal(result.status, 'completed');

      // Done counts: the ledger at the moment each reading was taken, within 1%.
      for (const { source, p } of readings) {
        assert.ok(p.asOf !== undefined, `${source}: says when it read the ledger`);
        const ledger = ledgerAsOf(stagingPath, p.asOf);
        for (const s of p.stages) {
          const settled = s.done + s.failed + s.skipped;
          const truth = ledger.get(s.stage) ?? 0;
          assert.ok(
            Math.abs(settled - truth) <= Math.max(1, truth * 0.01),
            `${source} at ${p.status}: ${s.stage} shows ${settled} settled, the ledger had ${truth}`
          );
        }
      }
      // While paused, the counts are the whole ledger: nothing moves, nothing is behind.
      const pausedReadings = readings.filter((r) => r.p.status === 'paused');
      assert.ok(pausedReadings.length >= 4, 'the pause was watched');
      const last = pausedReadings[pausedReadings.length - 1]!.p;
      const whole = ledgerAsOf(stagingPath, last.asOf!);
      assert.equal(last.stages.find((s) => s.stage === 'peer-messages')!.done, whole.get('peer-messages'));

      // Rates: never above what the emulator counted over the same window.
      let ratesSeen = 0;
      for (const { source, p } of readings) {
        const windowMs = p.rateWindowSeconds! * 1000;
        const end = Math.floor(p.asOf! / 1000) * 1000;
        for (const s of p.stages) {
          if (s.callsPerSecond === undefined || !s.action) continue;
          ratesSeen++;
          const arrived = timeline.atMost(s.action, end - windowMs, end + 250);
          assert.ok(
            s.callsPerSecond * p.rateWindowSeconds! <= arrived + 1,
            `${source}: ${s.stage} shows ${s.callsPerSecond.toFixed(2)} ${s.action} calls/s over ` +
              `${p.rateWindowSeconds} s; the emulator received at most ${arrived}`
          );
          assert.ok(s.callsPerSecond <= (s.budget ?? 0), `${source}: ${s.stage} above its budget`);
        }
      }
      assert.ok(ratesSeen >= readings.length, 'every reading showed a rate');

      // The final result is the ledger, exactly.
      const final = ledgerAsOf(stagingPath, endedAt);
      for (const s of result.stages) assert.equal(s.done + s.failed + s.skipped, final.get(s.stage) ?? 0, s.stage);
      const peer = result.stages.find((s) => s.stage === 'peer-messages')!;
      assert.ok(peer.pausedMs! >= pausedFor - 2_000, `peer-messages was paused ${peer.pausedMs} ms of ${pausedFor}`);
      // The report's duration of the stage leaves the pause out, and its rate is taken over that duration.
      const report = JSON.parse(
        (await exec(process.execPath, [BIN, 'report', stagingPath, '--json'], { env })).stdout
      ) as {
        stages: { stage: string; seconds?: number; pausedSeconds?: number; calls?: number; callsPerSecond?: number }[];
      };
      const reported = report.stages.find((s) => s.stage === 'peer-messages')!;
      const wall = (peer.finishedAt! - peer.startedAt!) / 1000;
      assert.ok(
        Math.abs(reported.seconds! - (wall - peer.pausedMs! / 1000)) < 0.01 && reported.seconds! < wall - 2,
        `report: ${reported.seconds} s of ${wall} s with ${peer.pausedMs} ms paused`
      );
      assert.equal(reported.pausedSeconds, peer.pausedMs! / 1000);
      assert.ok(reported.callsPerSecond! <= PEER_RATE, `report: ${reported.callsPerSecond} calls/s`);

      // ETA: over the second half of the run, within 10% of the time that really remained after the reading it is
      // as of, and two seconds of slack: the ETA counts the calls left, while the end also takes the last answers,
      // the stage's close and the test's polling (2.3 s after an ETA of 1 s on a loaded CI machine).
      const startedAt = etas[0]!.at;
      const secondHalf = etas.filter((e) => e.at >= startedAt + (endedAt - startedAt) / 2);
      assert.ok(secondHalf.length >= 5, `ETA read ${secondHalf.length} times in the second half`);
      for (const e of secondHalf) {
        const remaining = (endedAt - e.at) / 1000;
        assert.ok(
          Math.abs(e.eta - remaining) <= remaining * 0.1 + 2,
          `ETA ${e.eta} s with ${remaining.toFixed(1)} s left: ${JSON.stringify(etas.map((x) => [Math.round((x.at - startedAt) / 1000), x.eta]))}`
        );
      }
    } finally {
      timeline.stop();
      await emulator.stop();
    }
  });
});

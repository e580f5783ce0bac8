/**
 * Several machines, rehearsed on one: a migration run by 3 `zim-migrate worker` processes, each in an empty working
 * directory of its own and configured by environment alone, that share nothing but the Temporal server and one
 * PostgreSQL database (the staging with its ledger, and the call schedule). The emulator (over HTTP) must end
 * holding exactly what staging says; by its own counters, no Action went over its budget in any 1-s window (at most
 * 1% of calls answered "too frequent", retried), and the bottleneck Action (ImportPeerMsg, given a low budget) used
 * at least 97% of its budget while it had work, less one point per "too frequent" answer it gave that Action.
 */
import assert from 'node:assert/strict';
import { availableParallelism, loadavg } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { DATABASE_ENV } from '../../src/postgres/database-settings';
import { EXTRA_HEADROOM_MAX, EXTRA_HEADROOM_STEP } from '../../src/rate-limit/call-scheduler';
import { classifyZimCode } from '../../src/zim-client';
import { openStaging } from '../../src/staging';
import { copyStaging } from '../../src/staging/copy/copy-staging';
import { migrateIntoEmulator } from '../../src/testing/migrate-into-emulator';
import { budgetsAt, buildStaging, FAST_RATE, startFastEmulator } from '../../src/testing/migration-rig';
import type { ZimEmulator } from '../../src/zim-emulator';
import { assertExactAndSettled } from '../helpers/exact-migration';
import { useLocalPostgres } from '../helpers/local-postgres';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

/** The bottleneck: one Action with a budget low enough that the workers always have calls waiting for it. */
const BOTTLENECK = 'ImportPeerMsg';
const BOTTLENECK_RATE = 25;
const BUDGETS = { ...budgetsAt(FAST_RATE), [BOTTLENECK]: BOTTLENECK_RATE };
const SAMPLE_MS = 100;

interface Sample {
  at: number;
  calls: number;
}

/** The most calls between two samples at most 1 s apart (each such span lies inside some 1-s window). */
function mostInOneSecond(samples: readonly Sample[]): number {
  let most = 0;
  for (let i = 0, j = 0; i < samples.length; i++) {
    while (samples[i]!.at - samples[j]!.at > 1_000) j++;
    most = Math.max(most, samples[i]!.calls - samples[j]!.calls);
  }
  return most;
}

/**
 * Calls per second from the first sample after the calls began to the last sample where they were still rising:
 * both ends inside the time the Action had work, so idle time before and after does not count against it.
 */
function busyRate(samples: readonly Sample[]): { rate: number; seconds: number; calls: number } {
  const first = samples.findIndex((s) => s.calls > 0);
  let last = samples.length - 1;
  while (last > 0 && samples[last - 1]!.calls === samples[last]!.calls) last--;
  const [a, b] = [samples[first]!, samples[last]!];
  const seconds = (b.at - a.at) / 1000;
  return { rate: (b.calls - a.calls) / seconds, seconds, calls: b.calls };
}

/** Calls in each second of the samples, from the first call (to show where a shortfall is). */
function perSecond(samples: readonly Sample[]): number[] {
  const start = samples.find((s) => s.calls > 0)?.at ?? 0;
  const out: number[] = [];
  let prev = samples.find((s) => s.calls > 0)?.calls ?? 0;
  for (const s of samples) {
    if (s.at < start) continue;
    const i = Math.floor((s.at - start) / 1000);
    out[i] = (out[i] ?? 0) + s.calls - prev;
    prev = s.calls;
  }
  return Array.from(out, (n) => n ?? 0);
}

describe('a migration on 3 worker processes sharing only Temporal and PostgreSQL', () => {
  const pg = useLocalPostgres();
  let t: TemporalTestEnv;
  let staging: Awaited<ReturnType<typeof buildStaging>>;
  let emulator: ZimEmulator | undefined;
  before(async () => {
    [t, staging] = await Promise.all([startTemporalTestEnv(), buildStaging(24, 11, { gen: ['--groups', '3'] })]);
  });
  const saved = process.env[DATABASE_ENV.password];
  after(async () => {
    if (saved === undefined) delete process.env[DATABASE_ENV.password];
    else process.env[DATABASE_ENV.password] = saved;
    await emulator?.stop();
    await t?.teardown();
  });

  it('ends exact, within every budget, using the bottleneck budget fully', async (ctx) => {
    const url = `${pg.server().url}?schema=machines`;
    // This process only plans and checks; the workers get the password by their environment.
    await copyStaging(staging.fresh(), url, { env: pg.env() });
    emulator = await startFastEmulator({}, BUDGETS);
    const emu = emulator;
    const samples: Sample[] = [];
    const sampler = setInterval(
      // Accepted calls: the emulator answers a call over its budget "too frequent" (counted below), not a success.
      () => samples.push({ at: performance.now(), calls: emu.counters().succeeded[BOTTLENECK] ?? 0 }),
      SAMPLE_MS
    );
    const started = Date.now();
    let result;
    try {
      result = await migrateIntoEmulator({
        connection: t.server.env.nativeConnection,
        client: t.client,
        emulator: emu,
        stagingPath: url,
        migrationId: 'pg-machines',
        budgets: BUDGETS,
        workerProcesses: {
          count: 3,
          temporalAddress: t.server.address,
          budgetDb: pg.server().url,
          env: { ...pg.env(), ZIM_MIGRATE_DATABASE_URL: '' },
          ownDirs: true,
        },
      });
    } finally {
      clearInterval(sampler);
    }
    assert.equal(result.status, 'completed');

    // Only to read the ledger back: the workers were given the password by their own environment.
    process.env[DATABASE_ENV.password] = pg.server().password;
    const store = await openStaging(url);
    try {
      await assertExactAndSettled(store, emu, result.stages);
    } finally {
      await store.close();
    }

    const counters = emu.counters();
    const tooFrequent = Object.entries(counters.refusalsByAction).flatMap(([action, byCode]) =>
      Object.entries(byCode ?? {})
        .filter(([code]) => classifyZimCode(Number(code)) === 'rate-limited')
        .map(([code, n]) => `${action} ${code}: ${n}`)
    );
    const most = mostInOneSecond(samples);
    const busy = busyRate(samples);
    console.log(
      `3 worker processes: ${((Date.now() - started) / 1000).toFixed(1)} s; ${BOTTLENECK} ${busy.calls} calls, ` +
        `${busy.rate.toFixed(2)}/s over ${busy.seconds.toFixed(1)} s busy = ${((busy.rate / BOTTLENECK_RATE) * 100).toFixed(1)}% ` +
        `of ${BOTTLENECK_RATE}/s; most in 1 s: ${most}; "too frequent": ${tooFrequent.join(', ') || 'none'}; ` +
        `per second: ${perSecond(samples).join(' ')}`
    );
    assert.ok(most <= BOTTLENECK_RATE, `at most ${BOTTLENECK_RATE} ${BOTTLENECK} calls in 1 s, got ${most}`);
    // A call that reaches ZIM late (jitter between its slot and its arrival) can land in a window the next ones fill:
    // the emulator answers it "too frequent", as ZIM would, and it is retried. A handful, never a stream.
    const refused = Object.values(counters.refusalsByAction)
      .flatMap((byCode) => Object.entries(byCode ?? {}))
      .filter(([code]) => classifyZimCode(Number(code)) === 'rate-limited')
      .reduce((a, [, n]) => a + n, 0);
    const calls = Object.values(counters.calls).reduce((a, n) => a + (n ?? 0), 0);
    assert.ok(refused <= 0.01 * calls, `${refused} of ${calls} calls answered "too frequent" (at most 1%)`);
    assert.ok(busy.seconds >= 5, `${BOTTLENECK} busy only ${busy.seconds} s: no bottleneck to measure`);
    const use = busy.rate / BOTTLENECK_RATE;
    // The schedule spaces calls at 98% of the budget (2% headroom), and each "too frequent" answer holds the Action
    // 250 ms and, beyond an allowance, leaves one more percent unused for up to a minute (adaptive headroom,
    // src/rate-limit/call-scheduler.ts): at least 97% unless the emulator refused some, one point less per refusal.
    const bottleneckRefused = Object.entries(counters.refusalsByAction[BOTTLENECK] ?? {})
      .filter(([code]) => classifyZimCode(Number(code)) === 'rate-limited')
      .reduce((a, [, n]) => a + n, 0);
    const floor = 0.97 - Math.min(EXTRA_HEADROOM_MAX, bottleneckRefused * EXTRA_HEADROOM_STEP);
    const verdict = `${BOTTLENECK} used ${(use * 100).toFixed(1)}% of its budget (at least ${(floor * 100).toFixed(0)}%)`;
    // On a machine whose run queue holds more than twice its cores, worker processes are late to their slots and the
    // share measures the machine, not the schedule: said, not asserted.
    const [load = 0] = loadavg();
    if (load > 2 * availableParallelism()) ctx.diagnostic(`${verdict}: not asserted, load average ${load.toFixed(1)}`);
    else assert.ok(use >= floor, verdict);
  });
});

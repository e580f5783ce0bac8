/**
 * A whole migration's duration against its lower bound. Generates and plans an export (several thousand users;
 * `--shape real`: shaped like real chat, with a very long conversation, a few of ~1,000 messages, rooms of 700
 * members and many conversations of one or two messages, src/benchmarks/makespan-flags.ts),
 * runs the migration on a worker process against the emulator with every Action's budget at `--rate` calls/s,
 * enforced by the emulator with the same numbers (InviteUsersIntoGroup stays 1/s per group), and prints:
 *   actual / lower bound (the plan's critical path at the budgets, no stage shorter than its longest chain of calls
 *   × the step time, the chain term shown apart; issue #17 asks ≤ 1.05) and per-stage actual vs planned;
 *   the naive sequential time (one call at a time, stage after stage) and naive / actual;
 *   the message imports phase by phase (both import stages at once, then one), with the worker's cores and CPU per call;
 *   the worker process's RSS over the run (start, middle, end, max, slope) and each process's CPU.
 *
 *   npm run bench:makespan -- [--shape synthetic|real] [--users 3000] [--messages N] [--group-messages N] [--seed N]
 *     [--rate 50] [--step-ms N] [--rss-every 5] [--timeout-minutes 30]
 *   (--messages, --group-messages, --seed: default 10000, 10000, 7 for synthetic; 16000, 12000, 18 for real.
 *   --step-ms: one chain step's time; default the plan's, i.e. DEFAULT_STEP_MS, measured by bench:chain)
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import type { Client } from '@temporalio/client';
import { startDevServer } from '../dev-server/start-dev-server';
import { PER_GROUP_ACTIONS } from '../plan/actions';
import { DEFAULT_STEP_MS, LANES_PER_OWNER } from '../shared/chains';
import type { Plan, StagingCounts } from '../shared/migration-plan';
import { formatDuration } from '../shared/format-duration';
import { defaultBudget } from '../zim-client/limits';
import { MIGRATION_ACTIONS, STAGE_ACTION, STAGE_ACTIONS, type MigrationAction } from '../shared/stages';
import type { StageProgress } from '../shared/workflow-api';
import { openStaging } from '../staging';
import { buildStaging } from '../testing/migration-rig';
import { migrateIntoEmulator } from '../testing/migrate-into-emulator';
import { classifyZimCode, zimCodeName } from '../zim-client/codes';
import type { CountersSnapshot } from '../zim-emulator';
import { singleCallRoundTripMs } from './bare-zim-loop';
import { lowerBound, naiveSequentialSeconds } from './makespan-bounds';
import { devServerPid, cpuMeter, cpuSeconds, loadAverageText, renderCpuUse, type CpuUse } from './process-stats';
import { importPhases, renderImportPhase, type CpuSeries } from './import-phases';
import { renderRss, sampleRss, summariseRss } from './rss-sampler';
import { MAKESPAN_OPTIONS, parseMakespanFlags, workloadArgs } from './makespan-flags';
import { resultWithin } from './result-within';
import {
  startEmulatorAtRate,
  budgetUse,
  callSample,
  paceAndRefusals,
  renderBudgetUse,
  type CallSeries,
} from './budget-use';
import { installWorkerLogger } from '../worker/worker-logger';

/** What a migration that did not finish is waiting for: its running workflows and their workflow task attempts. */
async function printStuck(client: Client, migrationId: string) {
  console.log(`\nDID NOT FINISH; still running (load average ${loadAverageText()}):`);
  const query = `ZimMigrationId = "${migrationId}" AND ExecutionStatus = "Running"`;
  let shown = 0;
  for await (const wf of client.workflow.list({ query })) {
    if (++shown > 10) break;
    const pending = (await client.workflow.getHandle(wf.workflowId).describe()).raw.pendingWorkflowTask;
    console.log(
      `  ${wf.workflowId}: ${wf.historyLength} events` +
        (pending ? `, workflow task attempt ${pending.attempt} (earlier attempts timed out or failed)` : '')
    );
  }
}

/**
 * The longest sequences that must go one call after another (a conversation copy, a group's history), and what
 * makes a workload real-shaped: its longest conversations, its largest rooms and how many conversations are tiny.
 */
function longestSequences(stagingPath: string) {
  const db = new Database(stagingPath, { readonly: true });
  try {
    const n = (sql: string) => (db.prepare(sql).pluck().get() as number | null) ?? 0;
    const list = (sql: string) => db.prepare(sql).pluck().all() as number[];
    // Messages of each conversation that at least one side keeps (deleted by both: not imported).
    const conversations =
      'SELECT count(DISTINCT msg) AS c FROM peer_copies GROUP BY min(owner, peer), max(owner, peer)';
    return {
      conversation: n('SELECT max(c) FROM (SELECT count(*) AS c FROM peer_copies GROUP BY owner, peer)'),
      groupHistory: n('SELECT max(message_count) FROM groups'),
      topConversations: list(`SELECT c FROM (${conversations}) ORDER BY c DESC LIMIT 4`),
      conversations: n(`SELECT count(*) FROM (${conversations})`),
      tinyConversations: n(`SELECT count(*) FROM (${conversations}) WHERE c <= 2`),
      largestGroups: list('SELECT member_count FROM groups ORDER BY member_count DESC LIMIT 3'),
    };
  } finally {
    db.close();
  }
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** The chain term of the lower bound: each chained Action's longest chain, its seconds, and whether it binds. */
function renderChains(bound: Plan): string {
  const chains = bound.actions
    .filter((a) => a.chainSeconds !== undefined)
    .map((a) => {
      const binds = a.chainSeconds! > a.calls / a.rate;
      return (
        `${a.action} ${fmt(a.chainSteps ?? 0)} steps × ${bound.stepMs} ms = ${a.chainSeconds!.toFixed(0)} s ` +
        `(budget ${(a.calls / a.rate).toFixed(0)} s${binds ? ': the chain binds' : ''})`
      );
    });
  return `chain term: ${chains.join(', ') || 'no chains'}`;
}

/** Non-zero answers per Action, split into "too frequent" (the limits at work) and the rest. */
function codeAnswers(made: CountersSnapshot) {
  const rateLimited: string[] = [];
  const other: string[] = [];
  for (const [action, codes] of Object.entries(made.refusalsByAction)) {
    for (const [code, n] of Object.entries(codes ?? {})) {
      const into = classifyZimCode(Number(code)) === 'rate-limited' ? rateLimited : other;
      into.push(`${action} ${fmt(n)}${into === other ? ` (${zimCodeName(Number(code)) ?? code})` : ''}`);
    }
  }
  return { rateLimited, other };
}

function printSize(counts: StagingCounts, made: CountersSnapshot) {
  const total = Object.values(made.succeeded).reduce((a, b) => a + (b ?? 0), 0);
  console.log(
    `size: ${fmt(counts.users)} users, ${fmt(counts.friends)} friendships, ${fmt(counts.blocks)} blocks, ` +
      `${fmt(counts.groups)} groups with ${fmt(counts.groupMembers)} members, ${fmt(counts.peerMessages)} one-to-one ` +
      `messages (${fmt(counts.peerCopies)} owner copies in ${fmt(counts.conversations)} conversations), ` +
      `${fmt(counts.groupMessages)} group messages; ${fmt(total)} ZIM calls made`
  );
}

function printStages(bound: Plan, actual: readonly StageProgress[], t0: number) {
  console.log(
    "\nper stage: seconds from the start, planned = the lower bound's schedule (* = its critical path, ⛓ = its " +
      'longest chain, not its budget, sets its time)'
  );
  console.log('  stage             planned  start    end   actual  start    end    calls  calls/s');
  const col = (n: number, width: number) => (Number.isFinite(n) ? n.toFixed(0) : '-').padStart(width);
  for (const p of bound.stages) {
    const a = actual.find((s) => s.stage === p.stage);
    const start = a?.startedAt ? (a.startedAt - t0) / 1000 : Number.NaN;
    const end = a?.finishedAt ? (a.finishedAt - t0) / 1000 : Number.NaN;
    const calls = a?.calls ?? 0;
    console.log(
      `  ${(p.critical ? '*' : ' ') + p.stage + (p.chainBound ? ' ⛓' : '')}`.padEnd(18) +
        col(p.seconds, 8) +
        col(p.start, 7) +
        col(p.end, 7) +
        col(end - start, 9) +
        col(start, 7) +
        col(end, 7) +
        fmt(calls).padStart(9) +
        (calls / Math.max(1, end - start)).toFixed(1).padStart(9)
    );
  }
}

/**
 * Verify's read Actions while the stage ran, each from its first read to its last there: QueryPeerMsg is also read
 * by the peer-messages stage to reconcile, so measured over the whole run its rate says nothing about verify.
 */
function printVerifyReads(series: CallSeries, stages: readonly StageProgress[], rate: number) {
  const verify = stages.find((s) => s.stage === 'verify');
  if (verify?.startedAt === undefined || verify.finishedAt === undefined) return;
  const seconds = (verify.finishedAt - verify.startedAt) / 1000;
  console.log(
    `verify: ${seconds.toFixed(0)} s, ${fmt(verify.calls)} reads = ${(verify.calls / seconds).toFixed(1)} reads/s; ` +
      `each read Action while verify had work for it (seconds from verify's start):`
  );
  for (const action of STAGE_ACTIONS.verify) {
    const use = budgetUse(series, action, rate, { from: verify.startedAt, to: verify.finishedAt });
    if (use) console.log(`  ${renderBudgetUse(action, use, rate)}`);
  }
}

async function main() {
  const { values } = parseArgs({ options: MAKESPAN_OPTIONS });
  const o = parseMakespanFlags(values);
  const workload = workloadArgs(o);
  installWorkerLogger('ERROR');
  console.log(`zim-migrate makespan benchmark, ${new Date().toISOString()}, load average ` + loadAverageText());

  // Every Action at --rate, per-group Actions at their per-group default: in the plan, our schedule, the emulator.
  const planRates = MIGRATION_ACTIONS.filter((a) => !PER_GROUP_ACTIONS.has(a)).flatMap((a) => [
    '--rate',
    `${a}=${o.rate}`,
  ]);
  const budgets = Object.fromEntries(MIGRATION_ACTIONS.filter((a) => !defaultBudget(a).perKey).map((a) => [a, o.rate]));
  const staging = await buildStaging(o.users, o.seed, { gen: workload.gen, plan: [...workload.plan, ...planRates] });
  const store = await openStaging(staging.planned, { readonly: true });
  const meta = await store.meta();
  await store.close();
  const roundTripMs = await singleCallRoundTripMs();

  const server = await startDevServer();
  const emulator = await startEmulatorAtRate(o.rate, workload.limits);
  const series: CallSeries = [];
  const workerCpu: CpuSeries = [];
  let cpu: CpuUse = [];
  let rss: ReturnType<typeof summariseRss> | undefined;
  let t0 = 0;
  try {
    const result = await migrateIntoEmulator({
      connection: server.env.nativeConnection,
      client: server.env.client,
      emulator,
      stagingPath: staging.fresh(),
      migrationId: 'bench-makespan',
      budgets,
      workerProcesses: { count: 1, temporalAddress: server.address },
      during: async (handle, emu, [worker]) => {
        t0 = Date.now(); // the workflow has just been started, on a worker that is already polling
        const rssSampler = sampleRss(worker!.pid, o.rssEvery * 1000);
        const meter = cpuMeter({
          worker: worker!.pid,
          'dev server': devServerPid(),
          'benchmark + emulator': 'self',
        });
        const sampler = setInterval(() => {
          series.push(callSample(emu.counters()));
          try {
            workerCpu.push({ at: Date.now(), cpuSeconds: cpuSeconds(worker!.pid) });
          } catch {
            // it has exited: the run fails below
          }
        }, 1_000);
        try {
          if ((await resultWithin(server.env.client, handle, o.timeoutMinutes * 60_000)) === 'timed out') {
            await printStuck(server.env.client, 'bench-makespan');
            await handle.terminate('benchmark timed out');
            throw new Error(`the migration did not finish within ${o.timeoutMinutes} minutes`);
          }
        } finally {
          clearInterval(sampler);
          cpu = meter.stop();
          rss = summariseRss(rssSampler.stop());
        }
      },
    });
    const actualSeconds = (Date.now() - t0) / 1000;
    // For a closer look than the summary lines: calls and refusals per Action, sampled each second.
    if (o.seriesOut) writeFileSync(o.seriesOut, JSON.stringify({ t0, stages: result.stages, series, workerCpu }));
    const made = emulator.counters();
    console.log(`workload: --shape ${o.shape}, --users ${o.users}, --seed ${o.seed}, gen ${workload.gen.join(' ')}`);
    printSize(meta.counts, made);
    console.log(
      `budgets: ${o.rate} calls/s per Action (InviteUsersIntoGroup 1/s per group), the same in our call schedule and ` +
        `the emulator; one worker process; migration ${result.status}`
    );
    const rates = meta.settings.rates as Record<MigrationAction, number>;
    const stepMs = o.stepMs ?? meta.plan.stepMs ?? DEFAULT_STEP_MS;
    const bound = lowerBound(meta.plan, meta.counts, rates, made.succeeded, stepMs);
    const budgetsOnly = lowerBound(meta.plan, meta.counts, rates, made.succeeded, 0);
    console.log(
      `\nlower bound: ${bound.etaSeconds.toFixed(0)} s (compute-plan's critical path ${bound.criticalPath.join(' → ')} ` +
        `at the budgets and ${stepMs} ms a chain step, over the calls made; the plan's own ETA, counting Actions the ` +
        `migration does not call: ${meta.plan.etaSeconds.toFixed(0)} s)`
    );
    console.log(`  budgets alone: ${budgetsOnly.etaSeconds.toFixed(0)} s; ${renderChains(bound)}`);
    console.log(
      `actual:      ${actualSeconds.toFixed(0)} s (${formatDuration(actualSeconds)}) → actual / lower bound = ` +
        `${(actualSeconds / bound.etaSeconds).toFixed(3)} (issue #17 asks ≤ 1.05)`
    );
    const naive = naiveSequentialSeconds(made.succeeded, o.rate, roundTripMs);
    console.log(
      `naive:       ${naive.toFixed(0)} s (${formatDuration(naive)}): the same calls one at a time, stage after stage, ` +
        `each max(1/budget, ${roundTripMs.toFixed(2)} ms single-call round trip) → naive / actual = ` +
        `${(naive / actualSeconds).toFixed(2)}`
    );
    printStages(bound, result.stages, t0);

    const longest = longestSequences(staging.planned);
    console.log(
      `\nshape: ${fmt(longest.conversations)} conversations, the longest ${longest.topConversations.map(fmt).join(', ')} ` +
        `messages, ${fmt(longest.tinyConversations)} of one or two; the largest groups ` +
        `${longest.largestGroups.map(fmt).join(', ')} members`
    );
    console.log(
      `longest sequences (one call after another): a conversation copy of ${fmt(longest.conversation)} messages, ` +
        `an owner's copy of ${fmt(bound.actions.find((a) => a.action === 'ImportPeerMsg')?.chainSteps ?? 0)} steps ` +
        `over ${LANES_PER_OWNER} lanes, a group history of ${fmt(longest.groupHistory)}`
    );
    for (const action of [STAGE_ACTION['peer-messages'], STAGE_ACTION['group-messages']]) {
      const use = budgetUse(series, action, o.rate);
      if (use) console.log(`  ${renderBudgetUse(action, use, o.rate)}`);
      const { refusedAt, pace } = paceAndRefusals(series, action);
      if (use) console.log(`    calls/s each 30 s: ${pace.map((p) => p.toFixed(1)).join(' ')}`);
      if (refusedAt.length > 0) console.log(`    "too frequent" at second ${refusedAt.join(', ')}`);
    }
    console.log('message imports by phase (while both import stages had work, and while one had):');
    for (const phase of importPhases(series, workerCpu, result.stages, t0))
      console.log(`  ${renderImportPhase(phase, o.rate)}`);
    printVerifyReads(series, result.stages, o.rate);
    const answers = codeAnswers(made);
    console.log(
      `answered "too frequent" by the emulator's limits: ${answers.rateLimited.join(', ') || 'none'} (of ` +
        `${fmt(made.requests)} calls; each holds its Action back 250 ms); other non-zero codes (e.g. already friends, ` +
        `counted as done): ${answers.other.join(', ') || 'none'}`
    );
    if (rss) console.log(`\nworker RSS: ${renderRss(rss)}`);
    console.log(`CPU over the migration: ${renderCpuUse(cpu)}; load average now ${loadAverageText()}`);
  } finally {
    await emulator.stop();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

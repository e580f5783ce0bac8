/**
 * The catch-up benchmark's core (issue #13): an earlier export staged as `plan --out` stages it, a later one from
 * `gen --evolve` with a share of its records changed, the round's dry run (`catch-up --dry-run`) timed in a child
 * process with its peak RSS, and the calls the round makes held against the calls the changes need, which come
 * from evolve's own record of what it changed (synthetic/evolve-calls.ts), never from the difference.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROUND_ACTIONS, type RoundAction } from '../catch-up/difference';
import type { RoundPlan } from '../catch-up/plan-round';
import { ZIM_PLAN_LIMITS } from '../import-format/zim-limits';
import { DEFAULT_RATES } from '../plan/actions';
import { buildPlan } from '../plan/build-plan';
import { projectRoot } from '../shared/project-root';
import { callsNeeded } from '../synthetic/evolve-calls';
import { evolveExport, type EvolveSummary } from '../synthetic/evolve';
import { generateExport } from '../synthetic/generate';
import { DEFAULT_ZIM_PLAN } from '../zim-client/limits';
import { memoryOf } from './process-stats';

/** Fixed times keep the data reproducible: the earlier export ends here, the later one a day on. */
const END_MS = Date.parse('2026-01-01T00:00:00Z');
const UNTIL_MS = END_MS + 86_400_000;
const AS_OF = new Date(UNTIL_MS + 60_000).toISOString();
const SAMPLE_MS = 50;

export interface CatchUpBenchOptions {
  /** Where the exports, the staging and the rejects go. */
  dir: string;
  /** One-to-one messages of the earlier export (users: one per 20; group messages: a quarter as many, as gen). */
  messages: number;
  /** Share of records changed per kind (gen --evolve --change). */
  changed: number;
  seed: number;
  /** Compare the delta export (changes and tombstones) instead of the full later one. */
  incremental: boolean;
}

export interface Prepared {
  staging: string;
  later: EvolveSummary & { record: NonNullable<EvolveSummary['record']> };
  seconds: { generate: number; stage: number; evolve: number };
}

const since = (t: number) => (Date.now() - t) / 1000;

/** Generates the earlier export, stages it, and evolves it keeping evolve's record of what it changed. */
export async function prepareCatchUp(o: CatchUpBenchOptions): Promise<Prepared> {
  mkdirSync(o.dir, { recursive: true });
  const earlier = path.join(o.dir, 'app');
  let t = Date.now();
  await generateExport({
    out: earlier,
    users: Math.max(2, Math.round(o.messages / 20)),
    seed: o.seed,
    peerMessages: o.messages,
    endMs: END_MS,
  });
  const generate = since(t);
  t = Date.now();
  const staging = path.join(o.dir, 'app.sqlite');
  const built = await buildPlan({
    dirs: [earlier],
    limits: ZIM_PLAN_LIMITS[DEFAULT_ZIM_PLAN],
    asOfMs: Date.parse(AS_OF),
    merge: { prefer: [], groupIdPrefix: {}, messageIdPrefix: {} },
    rejectsFile: path.join(o.dir, 'rejects-1.ndjson'),
    out: staging,
    rates: DEFAULT_RATES,
    excludeErrors: false,
    force: true,
  });
  if (built.validation.errors > 0) throw new Error(`the earlier export has ${built.validation.errors} error(s)`);
  const stage = since(t);
  t = Date.now();
  const later = await evolveExport({
    from: earlier,
    // A full later export is staged under its directory's name as the app's: the same name as the earlier one.
    out: path.join(o.dir, o.incremental ? 'delta' : path.join('later', 'app')),
    seed: o.seed + 1,
    incremental: o.incremental,
    untilMs: UNTIL_MS,
    change: o.changed,
    keepRecord: true,
  });
  return {
    staging,
    later: later as Prepared['later'],
    seconds: { generate, stage, evolve: since(t) },
  };
}

export interface DryRun {
  seconds: number;
  peakRssMb: number;
  plan: RoundPlan;
  /** `trace` lines of the child (ZIM_MIGRATE_TRACE): where the time and memory went. */
  phases: string[];
}

/** `zim-migrate catch-up <staging> <export> --dry-run --json` in a child process: its time and peak RSS. */
export async function timeDryRun(staging: string, exportDir: string, rejectsFile: string): Promise<DryRun> {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      path.join(projectRoot(), 'bin', 'zim-migrate.js'),
      'catch-up',
      staging,
      exportDir,
      '--dry-run',
      '--json',
      '--as-of',
      AS_OF,
      '--rejects',
      rejectsFile,
    ],
    { env: { ...process.env, ZIM_MIGRATE_TRACE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] }
  );
  let peak = 0;
  const sampler = setInterval(() => {
    const m = child.pid === undefined ? null : memoryOf(child.pid);
    if (m) peak = Math.max(peak, m.peakBytes);
  }, SAMPLE_MS);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(sampler);
  const seconds = since(started);
  if (code !== 0) throw new Error(`catch-up --dry-run exited ${code}:\n${stderr}`);
  return {
    seconds,
    peakRssMb: peak / 2 ** 20,
    plan: JSON.parse(stdout) as RoundPlan,
    phases: stderr
      .split('\n')
      .filter((l) => l.startsWith('trace '))
      .map((l) => l.slice(6)),
  };
}

export interface CallComparison {
  action: RoundAction;
  made: number;
  needed: number;
  /** made / needed; 1 when both are 0, Infinity for calls no change needs. */
  ratio: number;
}

/**
 * Calls made (the round's plan now; the executed round's calls, counted at ZIM, once rounds run) against the
 * calls the changes need, for every Action a round calls. The target is equal: not one call for an unchanged record.
 */
export function compareWithNeeded(
  made: Readonly<Record<RoundAction, number>>,
  needed: Readonly<Record<RoundAction, number>>
): { rows: CallComparison[]; mismatches: CallComparison[] } {
  const rows = (Object.keys(ROUND_ACTIONS) as RoundAction[]).map((action) => {
    const m = made[action] ?? 0;
    const n = needed[action];
    return { action, made: m, needed: n, ratio: n === 0 ? (m === 0 ? 1 : Infinity) : m / n };
  });
  return { rows, mismatches: rows.filter((r) => r.made !== r.needed) };
}

export interface CatchUpBenchResult {
  prepared: Prepared;
  dryRun: DryRun;
  needed: Record<RoundAction, number>;
  planned: ReturnType<typeof compareWithNeeded>;
}

export async function runCatchUpBench(o: CatchUpBenchOptions): Promise<CatchUpBenchResult> {
  const prepared = await prepareCatchUp(o);
  const dryRun = await timeDryRun(prepared.staging, prepared.later.dir, path.join(o.dir, 'rejects-2.ndjson'));
  const difference = dryRun.plan.difference;
  if (!difference) throw new Error('the later export has errors: the round compared nothing');
  const needed = callsNeeded(prepared.later.record);
  return { prepared, dryRun, needed, planned: compareWithNeeded(difference.calls, needed) };
}

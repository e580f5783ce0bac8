/**
 * What `status --watch` (and `dev`) print while a migration runs. On a terminal the table is redrawn in place. Where
 * output is a log (CI, `| tee`, a file) cursor escapes would be garbage, so it prints one compact line when a stage
 * starts or ends or the migration's status changes, and otherwise at most one line per interval, only when counts
 * moved. With --json the same decisions print one JSON object per line (NDJSON).
 */
import { etaNow, type MigrationProgress, type StageProgress, type StageStatus } from '../shared/workflow-api';
import { formatDuration } from '../shared/format-duration';
import { isUnderWay, renderProgress } from './render-progress';

export type WatchOutput = 'redraw' | 'lines' | 'ndjson';

export function watchOutputFor(options: { json: boolean; isTTY: boolean }): WatchOutput {
  if (options.json) return 'ndjson';
  return options.isTTY ? 'redraw' : 'lines';
}

/** A migration that no longer runs: the workflow's result when it completed, else only its Temporal status. */
export interface FinalMigrationState {
  migrationId: string;
  /** `completed` / `cancelled` (the workflow's result), or Temporal's status: `failed`, `terminated`, `timed_out`... */
  status: string;
  stages?: StageProgress[];
}

export interface ProgressPrinterOptions {
  output: WatchOutput;
  /** Lines and NDJSON: while no stage changes, at most one update per this many ms (and none if nothing moved). */
  everyMs: number;
  write(text: string): void;
  now?: () => number;
}

const n = (x: number) => x.toLocaleString('en-US');
const settled = (s: StageProgress) => s.done + s.failed + s.skipped;
const percent = (part: number, whole: number) => (whole > 0 ? Math.floor((part / whole) * 100) : 100);
const timestamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** One line: when, which migration, its status and overall progress, running and finished stages, what changed. */
export function compactLine(
  p: Pick<MigrationProgress, 'migrationId' | 'pausedReason' | 'etaSeconds' | 'asOf' | 'stages'> & { status: string },
  changes: readonly string[],
  now: number
): string {
  const planned = p.stages.reduce((a, s) => a + s.planned, 0);
  const done = p.stages.reduce((a, s) => a + settled(s), 0);
  const failed = p.stages.reduce((a, s) => a + s.failed, 0);
  const head = [
    timestamp(now),
    p.migrationId,
    p.status.toUpperCase() + (p.status === 'paused' && p.pausedReason ? ` (${p.pausedReason})` : ''),
    // Before the plan is loaded the stages (if listed yet) count nothing: no percentage then (not "100% 0/0").
    planned === 0 && p.status === 'running'
      ? 'starting'
      : `${percent(done, planned)}% ${n(done)}/${n(planned)}` + (failed ? ` failed ${n(failed)}` : ''),
  ].join(' ');
  const underWay = p.stages
    .filter(isUnderWay)
    .map(
      (s) =>
        `${s.stage} ${percent(settled(s), s.planned)}%` +
        (s.callsPerSecond !== undefined ? ` ${s.callsPerSecond.toFixed(1)}/${s.budget ?? '?'}/s` : '')
    );
  const finished = p.stages.filter((s) => s.status === 'done' || s.status === 'cancelled').map((s) => s.stage);
  const window = (p as Partial<MigrationProgress>).rateWindowSeconds;
  return [
    head,
    changes.length ? changes.join(', ') : undefined,
    underWay.length
      ? `${p.status === 'paused' ? 'paused' : 'running'} ${underWay.join(', ')}` +
        (window !== undefined && p.stages.some((s) => isUnderWay(s) && s.callsPerSecond !== undefined)
          ? ` (calls/s over ${window} s)`
          : '')
      : undefined,
    finished.length ? `done ${finished.join(',')}` : undefined,
    etaNow(p, now) !== undefined ? `ETA ${formatDuration(etaNow(p, now)!)}` : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** A finished migration as text: its status, then each stage's line (the live table without the clock). */
export function renderFinal(final: FinalMigrationState): string {
  const table = final.stages?.length
    ? renderProgress({ migrationId: final.migrationId, status: 'completed', startedAt: 0, stages: final.stages })
        .split('\n')
        .slice(1)
    : [];
  return [`migration ${final.migrationId}: ${final.status.toUpperCase()}`, ...table].join('\n') + '\n';
}

export class ProgressPrinter {
  private readonly now: () => number;
  private lastShape?: string;
  private lastCounts?: string;
  private lastPrintAt = Number.NEGATIVE_INFINITY;
  private statuses = new Map<string, StageStatus>();

  constructor(private readonly options: ProgressPrinterOptions) {
    this.now = options.now ?? Date.now;
  }

  /** One poll's progress: printed or not, as the output mode decides. */
  show(p: MigrationProgress): void {
    const now = this.now();
    if (this.options.output === 'redraw') {
      this.options.write(`\x1b[2J\x1b[H${renderProgress(p, now)}\n`);
      return;
    }
    // Shape: what a reader must see at once (status, pause reason, stage states). Counts: worth a periodic line.
    const shape = JSON.stringify([p.status, p.pausedReason ?? null, p.stages.map((s) => s.status)]);
    const counts = JSON.stringify(p.stages.map((s) => [s.done, s.failed, s.skipped]));
    const shapeChanged = shape !== this.lastShape;
    const due = counts !== this.lastCounts && now - this.lastPrintAt >= this.options.everyMs;
    if (!shapeChanged && !due) return;
    const changes = this.stageChanges(p.stages);
    this.options.write(
      this.options.output === 'ndjson' ? `${JSON.stringify(p)}\n` : `${compactLine(p, changes, now)}\n`
    );
    this.lastShape = shape;
    this.lastCounts = counts;
    this.lastPrintAt = now;
  }

  /** The migration ended: one last line or object, always printed. */
  end(final: FinalMigrationState): void {
    const now = this.now();
    const stages = final.stages ?? [];
    if (this.options.output === 'ndjson') this.options.write(`${JSON.stringify(final)}\n`);
    else if (this.options.output === 'lines')
      this.options.write(`${compactLine({ ...final, stages }, this.stageChanges(stages), now)}\n`);
    else this.options.write(renderFinal(final));
  }

  /** "accounts→done" for every stage whose status differs from the last line printed. */
  private stageChanges(stages: readonly StageProgress[]): string[] {
    const changes: string[] = [];
    for (const s of stages) {
      const before = this.statuses.get(s.stage) ?? 'pending';
      if (s.status !== before) changes.push(`${s.stage}→${s.status}`);
      this.statuses.set(s.stage, s.status);
    }
    return changes;
  }
}

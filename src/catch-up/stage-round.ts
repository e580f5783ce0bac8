/**
 * Stages a catch-up round in the migration's own staging (issue #13): checks that the later export continues this
 * migration (its watermark is not older than the last round's, no round is unfinished), plans it (plan-round.ts),
 * and has the store write the round's work and bring the staged records forward, in one transaction. Staging a
 * round whose export is the unfinished round's returns that round: a rerun after a crash continues, never doubles.
 * Both engines: a PostgreSQL staging stages the round through a SQLite snapshot (src/staging/postgres/pg-stage-round.ts).
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { readManifest } from '../import-format/manifest';
import { redactIfUrl } from '../postgres/database-settings';
import { UsageError } from '../shared/usage-error';
import { openStaging } from '../staging';
import type { RoundRecord } from '../staging/migration-store';
import { catchUpWorkDir, planRound, type RoundPlan } from './plan-round';

export interface StageRoundOptions {
  staging: string;
  exportDir: string;
  asOfMs: number;
  rejectsFile: string;
  /** The round's budgets, for its plan's ETA. */
  budgets?: Record<string, number>;
  /** A PostgreSQL staging's connection settings (password, TLS); default process.env. */
  env?: NodeJS.ProcessEnv;
}

export type StagedRound =
  | { kind: 'staged'; round: RoundRecord; plan: RoundPlan }
  /** An unfinished round of the same export: run it again (its ledger keeps it exact). */
  | { kind: 'unfinished'; round: RoundRecord }
  /** The later export has errors: nothing staged. */
  | { kind: 'invalid'; plan: RoundPlan };

const iso = (ms: number) => new Date(ms).toISOString();

export async function stageRound(opts: StageRoundOptions): Promise<StagedRound> {
  const exportDir = path.resolve(opts.exportDir);
  const manifest = readManifest(exportDir);
  const store = await openStaging(opts.staging, {}, opts.env);
  try {
    const rounds = await store.rounds();
    const last = rounds[rounds.length - 1];
    if (last && last.state !== 'done') {
      if (last.exportDir === exportDir) return { kind: 'unfinished', round: last };
      throw new UsageError(
        `round ${last.round} of this migration (from ${last.exportDir}) has not finished: a second round cannot ` +
          `start before it. Run "zim-migrate catch-up ${redactIfUrl(opts.staging)} ${last.exportDir}" to resume it, or follow it ` +
          'with "zim-migrate status"'
      );
    }
    const previousUntil = last?.untilMs ?? null;
    if (previousUntil !== null && manifest) {
      if (manifest.kind === 'incremental' && manifest.sinceMs < previousUntil)
        throw new UsageError(
          `${path.join(exportDir, 'export.json')}: since ${iso(manifest.sinceMs)} is older than round ` +
            `${last!.round}'s watermark ${iso(previousUntil)}: this delta overlaps what was already carried. ` +
            `Export the delta again with since = ${iso(previousUntil)}`
        );
      if (manifest.untilMs !== undefined && manifest.untilMs <= previousUntil)
        throw new UsageError(
          `${path.join(exportDir, 'export.json')}: until ${iso(manifest.untilMs)} is not after round ` +
            `${last!.round}'s watermark ${iso(previousUntil)}: this export is older than what the migration holds. ` +
            'Export the app again (a later export), then run catch-up with it'
        );
    }
    const work = catchUpWorkDir(opts.staging);
    try {
      const plan = await planRound({ ...opts, exportDir, workDir: work });
      if (!plan.difference) return { kind: 'invalid', plan };
      const round = await store.stageRound({
        round: (last?.round ?? 0) + 1,
        laterFile: path.join(work, 'later.sqlite'),
        exportDir,
        kind: manifest?.kind ?? 'full',
        sinceMs: manifest?.kind === 'incremental' ? manifest.sinceMs : null,
        untilMs: manifest?.untilMs ?? null,
        changes: plan.difference.changes,
        etaSeconds: plan.etaSeconds,
      });
      return { kind: 'staged', round, plan };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  } finally {
    await store.close();
  }
}

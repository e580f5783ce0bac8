/**
 * `plan`: validate and merge the exports, build the staging file the migration reads, and compute the
 * plan. The file is built under a temporary name and renamed when complete, so a staging file is never
 * half-built; an existing one is never replaced without --force (it may hold a migration's ledger).
 */
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { redactUrl } from '../postgres/database-settings';
import { UsageError } from '../shared/usage-error';
import { isDatabaseUrl } from '../staging';
import { copyStaging, stagingTargetEmpty } from '../staging/copy/copy-staging';
import { buildReadTables, writeMeta } from '../staging/sqlite/finalize';
import { STAGING_FORMAT_VERSION } from '../staging/sqlite/schema';
import type { StagingMeta } from '../staging/migration-store';
import { validateExports, type ValidateOptions, type ValidationResult } from '../validate/validate-exports';
import type { MigrationAction } from '../shared/stages';
import type { Plan } from '../shared/migration-plan';
import { DEFAULT_STEP_MS } from '../shared/chains';
import { computePlan } from './compute-plan';

export interface BuildPlanOptions extends Omit<ValidateOptions, 'stagingFile'> {
  out: string;
  rates: Record<MigrationAction, number>;
  /** The time of one chain step (ms) the ETA is timed at; DEFAULT_STEP_MS when absent. */
  stepMs?: number;
  /** Stage what is valid even when some records have errors (they are left out and listed). */
  excludeErrors: boolean;
  force: boolean;
}

export interface BuildPlanResult {
  validation: ValidationResult;
  /** Null when errors stopped the build. */
  plan: Plan | null;
  stagingFile: string | null;
}

export async function buildPlan(opts: BuildPlanOptions): Promise<BuildPlanResult> {
  if (isDatabaseUrl(opts.out)) return buildPlanIntoDatabase(opts);
  if (existsSync(opts.out) && !opts.force)
    throw new UsageError(`${opts.out} exists (it may hold a migration's ledger); pass --force to replace it`);
  const building = `${opts.out}.building`;
  const { db, result } = await validateExports({ ...opts, stagingFile: building });
  try {
    if (result.errors > 0 && !opts.excludeErrors) {
      db.close();
      rmSync(building, { force: true });
      return { validation: result, plan: null, stagingFile: null };
    }
    const { counts, workload } = buildReadTables(db);
    const plan = computePlan(counts, workload, opts.rates, result.rules, opts.stepMs ?? DEFAULT_STEP_MS);
    const meta: StagingMeta = {
      formatVersion: STAGING_FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      apps: result.apps,
      settings: {
        limits: opts.limits,
        asOf: result.asOf,
        rates: opts.rates,
        groupIdPrefix: { ...opts.merge.groupIdPrefix },
        messageIdPrefix: { ...opts.merge.messageIdPrefix },
        excludedErrors: result.errors > 0,
      },
      counts,
      plan,
    };
    writeMeta(db, meta);
    db.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(opts.out + suffix, { force: true });
    renameSync(building, opts.out);
    return { validation: result, plan, stagingFile: opts.out };
  } catch (err) {
    if (db.open) db.close();
    rmSync(building, { force: true });
    throw err;
  }
}

/**
 * `plan --out postgres://…`: validation, merge and the read tables are SQLite SQL, so the staging is built in a
 * temporary SQLite file and copied in (`staging copy`), then the file is deleted. The target is checked first, so a
 * staged migration is not found in the way only after the build.
 */
async function buildPlanIntoDatabase(opts: BuildPlanOptions): Promise<BuildPlanResult> {
  if (!opts.force && !(await stagingTargetEmpty(opts.out)))
    throw new UsageError(`${redactUrl(opts.out)} already holds a staged migration; pass --force to replace it`);
  const dir = mkdtempSync(path.join(tmpdir(), 'zim-plan-'));
  try {
    const built = await buildPlan({ ...opts, out: path.join(dir, 'staging.sqlite'), force: false });
    if (!built.stagingFile) return built;
    await copyStaging(built.stagingFile, opts.out, { force: opts.force });
    return { ...built, stagingFile: opts.out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

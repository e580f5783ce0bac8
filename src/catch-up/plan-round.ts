/**
 * Plans a catch-up round (issue #13): stages a later export of the migration's app (a full one as it is, an
 * incremental one made whole by materialize-incremental.ts) the way `plan` staged the first one (the same ZIM plan limits and id prefixes, read from the migration's staging), compares the two
 * (difference.ts) and times the round alone at its budgets (the plan's rates, over them the round's --budget).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readManifest } from '../import-format/manifest';
import { buildPlan } from '../plan/build-plan';
import { DEFAULT_RATES } from '../plan/actions';
import { UsageError } from '../shared/usage-error';
import { tracePhase } from '../diagnostics/trace';
import { isDatabaseUrl, redactIfUrl } from '../postgres/database-settings';
import { copyStaging } from '../staging/copy/copy-staging';
import { SNAPSHOT_TABLES } from '../staging/copy/staged-tables';
import { openStaging } from '../staging';
import type { ValidationResult } from '../validate/validate-exports';
import { materializeIncremental } from './materialize-incremental';
import { computeDifference, ROUND_ACTIONS, type Difference, type RoundAction } from './difference';

export interface RoundPlan {
  staging: string;
  export: string;
  /** The later export's watermark, when its export.json gives one. */
  untilMs: number | null;
  validation: ValidationResult;
  difference: Difference | null;
  /** Seconds each Action needs at its budget (per group for the per-group Actions), and the round's. */
  seconds: Partial<Record<RoundAction, number>>;
  etaSeconds: number;
}

export interface PlanRoundOptions {
  staging: string;
  exportDir: string;
  asOfMs: number;
  /** Where the later export's rejects go (NDJSON, as validate writes them). */
  rejectsFile: string;
  /** Where the later export is staged; the caller removes it (a dry run) or keeps it (a round). */
  workDir?: string;
  /** The round's budgets (catch-up --budget, "budgets" in the config file), over the plan's rates. */
  budgets?: Record<string, number>;
  /** A PostgreSQL staging's connection settings (password, TLS); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** A scratch directory beside a staging file (same disk), or in the temporary directory for a database URL. */
export function catchUpWorkDir(staging: string): string {
  const parent = isDatabaseUrl(staging) ? os.tmpdir() : path.dirname(path.resolve(staging));
  return mkdtempSync(path.join(parent, '.catch-up-'));
}

/** Actions the first migration has no budget for take ZIM's default: 20/s, or 1/s per group. */
function rateOf(action: RoundAction, rates: Record<string, number>): number {
  return (
    rates[action] ?? (DEFAULT_RATES as Record<string, number>)[action] ?? ('perGroup' in ROUND_ACTIONS[action] ? 1 : 20)
  );
}

export async function planRound(opts: PlanRoundOptions): Promise<RoundPlan> {
  const manifest = readManifest(opts.exportDir);
  const store = await openStaging(opts.staging, { readonly: true }, opts.env);
  const meta = await store.meta().finally(() => store.close());
  if (meta.apps.length !== 1)
    throw new UsageError(
      `${redactIfUrl(opts.staging)} merged ${meta.apps.length} apps (${meta.apps.map((a) => a.name).join(', ')}); ` +
        'catch-up rounds take one app per migration for now'
    );
  // An incremental export is made whole first, under the staged app's name (so its id prefixes apply as before).
  const app = manifest?.kind === 'incremental' ? meta.apps[0]!.name : path.basename(path.resolve(opts.exportDir));
  const prefix = (p: Record<string, string>) => {
    const value = p[meta.apps[0]!.name];
    return value === undefined ? {} : { [app]: value };
  };
  const work = opts.workDir ?? catchUpWorkDir(opts.staging);
  const later = path.join(work, 'later.sqlite');
  try {
    // A PostgreSQL staging is compared through a SQLite snapshot of its staged records (not its ledger).
    let earlier = opts.staging;
    if (isDatabaseUrl(opts.staging)) {
      earlier = path.join(work, 'earlier.sqlite');
      await copyStaging(opts.staging, earlier, { tables: SNAPSHOT_TABLES, ...(opts.env && { env: opts.env }) });
      tracePhase('catch-up: PostgreSQL staging snapshot');
    }
    let exportDir = opts.exportDir;
    if (manifest?.kind === 'incremental') {
      exportDir = path.join(work, app);
      await materializeIncremental(earlier, opts.exportDir, manifest, exportDir);
      tracePhase('catch-up: incremental export made whole');
    }
    const built = await buildPlan({
      dirs: [exportDir],
      limits: meta.settings.limits,
      asOfMs: opts.asOfMs,
      merge: {
        prefer: [],
        groupIdPrefix: prefix(meta.settings.groupIdPrefix),
        messageIdPrefix: prefix(meta.settings.messageIdPrefix),
      },
      rejectsFile: opts.rejectsFile,
      out: later,
      rates: meta.settings.rates,
      excludeErrors: false,
      force: true,
    });
    const base = { staging: opts.staging, export: opts.exportDir, untilMs: manifest?.untilMs ?? null };
    if (!built.stagingFile)
      return { ...base, validation: built.validation, difference: null, seconds: {}, etaSeconds: 0 };
    tracePhase('catch-up: later export staged');
    const difference = computeDifference(earlier, later, { incremental: manifest?.kind === 'incremental' });
    tracePhase('catch-up: difference');
    const seconds: Partial<Record<RoundAction, number>> = {};
    for (const action of Object.keys(ROUND_ACTIONS) as RoundAction[]) {
      const calls = difference.calls[action];
      if (!calls) continue;
      const rate = rateOf(action, { ...meta.settings.rates, ...opts.budgets });
      // Per-group Actions: groups go side by side, each at its own 1/s; the busiest group bounds them.
      seconds[action] = (difference.maxCallsPerGroup[action] ?? calls) / rate;
    }
    // Accounts come first; everything else may then go side by side, each Action at its own budget.
    const first = seconds.UserRegister ?? 0;
    const rest = Math.max(
      0,
      ...Object.entries(seconds)
        .filter(([a]) => a !== 'UserRegister')
        .map(([, s]) => s)
    );
    return { ...base, validation: built.validation, difference, seconds, etaSeconds: Math.ceil(first + rest) };
  } finally {
    if (!opts.workDir) rmSync(work, { recursive: true, force: true });
  }
}

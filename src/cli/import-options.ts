/**
 * The options `validate` and `plan` share: the ZIM plan's limits, "now", the multi-app merge and the
 * rejects file. The ZIM plan's part (`addZimPlanOptions`) is also `dev`'s, which hands it to `plan` and to the
 * emulator. Commander collects strings; zod turns them into settings or a usage error (exit 2).
 */
import { statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { ExportDirError, scanExportDir } from '../import-format/export-dir';
import { ManifestError, readManifest } from '../import-format/manifest';
import { ACCEPTED_FILES } from '../import-format/rules';
import { time } from '../import-format/schemas';
import { toEpochMs } from '../import-format/time';
import { ZIM_MAX_RAISED_BYTES, ZIM_PLAN_LIMITS, type ZimLimits } from '../import-format/zim-limits';
import type { MergeOptions } from '../merge/merge-apps';
import { DEFAULT_RATES } from '../plan/actions';
import { MIGRATION_ACTIONS, type MigrationAction } from '../shared/stages';
import { UsageError } from '../shared/usage-error';
import { DEFAULT_ZIM_PLAN, ZIM_PLAN_NAMES } from '../zim-client/limits';

export interface ImportSettings {
  limits: ZimLimits;
  asOfMs: number;
  merge: MergeOptions;
  rejectsFile: string;
  json: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The ZIM plan the customer bought, and "now": what decides which records ZIM accepts. */
export interface ZimPlanSettings {
  limits: ZimLimits;
  asOfMs: number;
  /** Whether --as-of was given (otherwise asOfMs is the moment the flags were read). */
  asOfGiven: boolean;
}

/** The ZIM plan's limits and "now": one definition for validate, plan and dev. */
export function addZimPlanOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--zim-plan <plan>', 'the ZIM plan whose limits apply (§5b)')
        .choices(ZIM_PLAN_NAMES)
        .default(DEFAULT_ZIM_PLAN)
    )
    .option('--retention-days <n>', "history retention (default: the plan's; more if bought from ZEGO)")
    .option('--max-group-members <n>', "members per group (default: the plan's)")
    .option('--max-friends <n>', "friends per user (default: the plan's)")
    .option('--max-blocks <n>', 'blocked users per user (default 1000)')
    .option('--message-bytes <n>', 'MessageBody.Message limit in bytes (default 2048; ZEGO can raise it to 32768)')
    .option('--user-extra-bytes <n>', 'user extended data limit in bytes (default 2048, up to 32768)')
    .option('--as-of <time>', '"now" for the future and retention checks (ms or ISO-8601; default: now)');
}

export function addImportOptions(cmd: Command): Command {
  return addZimPlanOptions(cmd)
    .option('--prefer <apps>', 'merge precedence, best first, comma-separated app names (default: argument order)')
    .option('--group-id-prefix <app=prefix>', "prefix this app's group ids (repeatable)", collect)
    .option('--message-id-prefix <app=prefix>', "prefix this app's message ids (repeatable)", collect)
    .option('--rejects <file>', 'where every reject is written, one JSON object per line', 'rejects.ndjson')
    .option('--json', 'print the result as JSON (for programs)', false);
}

const count = (flag: string) =>
  z.coerce
    .number({ error: `${flag} must be a number` })
    .int(`${flag} must be a whole number`)
    .positive(`${flag} must be positive`);
const bytes = (flag: string) => count(flag).max(ZIM_MAX_RAISED_BYTES, `${flag} is at most ${ZIM_MAX_RAISED_BYTES}`);

const rawZimPlanOptions = z.object({
  zimPlan: z.enum(ZIM_PLAN_NAMES),
  retentionDays: count('--retention-days').optional(),
  maxGroupMembers: count('--max-group-members').optional(),
  maxFriends: count('--max-friends').optional(),
  maxBlocks: count('--max-blocks').optional(),
  messageBytes: bytes('--message-bytes').optional(),
  userExtraBytes: bytes('--user-extra-bytes').optional(),
  asOf: z
    .string()
    .transform((s) => (/^\d+$/.test(s) ? Number(s) : s))
    .pipe(time)
    .optional(),
});

const rawImportOptions = rawZimPlanOptions.extend({
  prefer: z.string().optional(),
  groupIdPrefix: z.array(z.string()).default([]),
  messageIdPrefix: z.array(z.string()).default([]),
  rejects: z.string().min(1),
  json: z.boolean(),
});

/**
 * The export directories as given: each must exist, be a directory and hold at least one entity file. Anything
 * else is a usage error naming what is expected (exit 2), not a run that finds nothing and reports zeros.
 */
const exportDirs = z.array(
  z.string().superRefine((dir, ctx) => {
    const problem = exportDirProblem(dir);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
);

function exportDirProblem(dir: string): string | undefined {
  const expected = `expected an export directory with one NDJSON file per entity: ${ACCEPTED_FILES}; users is required (docs/import-format.md)`;
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory: ${expected}`;
    if (scanExportDir(dir).files.length === 0) return `${dir} holds no export files: ${expected}`;
    if (readManifest(dir)?.kind === 'incremental')
      return (
        `${dir} is an incremental export (its export.json says so): it holds only changes since an earlier ` +
        'export, so it cannot be validated or staged alone; it is the input of a catch-up round: ' +
        `zim-migrate catch-up <staging> ${dir} --dry-run (docs/import-format.md#incremental-exports)`
      );
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `No such directory: ${dir}`;
    return err instanceof ExportDirError || err instanceof ManifestError
      ? err.message
      : `cannot read ${dir}: ${code ?? (err as Error).message}`;
  }
}

export function parseExportDirs(dirs: readonly string[]): string[] {
  return parseOrUsage(exportDirs, dirs);
}

/** The flags of `addZimPlanOptions` (other keys of `raw` are ignored) as the plan's limits and "now". */
export function parseZimPlanOptions(raw: unknown, now = Date.now()): ZimPlanSettings {
  return zimPlanSettings(parseOrUsage(rawZimPlanOptions, raw), now);
}

function zimPlanSettings(o: z.output<typeof rawZimPlanOptions>, now: number): ZimPlanSettings {
  const preset = ZIM_PLAN_LIMITS[o.zimPlan];
  return {
    limits: {
      ...preset,
      retentionDays: o.retentionDays ?? preset.retentionDays,
      maxGroupMembers: o.maxGroupMembers ?? preset.maxGroupMembers,
      maxFriendsPerUser: o.maxFriends ?? preset.maxFriendsPerUser,
      maxBlocksPerUser: o.maxBlocks ?? preset.maxBlocksPerUser,
      messageBytes: o.messageBytes ?? preset.messageBytes,
      userExtraBytes: o.userExtraBytes ?? preset.userExtraBytes,
    },
    asOfMs: o.asOf === undefined ? now : toEpochMs(o.asOf),
    asOfGiven: o.asOf !== undefined,
  };
}

/** The same settings as flags of `validate` / `plan`, every limit spelled out (so another process applies them). */
export function zimPlanArgs(settings: ZimPlanSettings): string[] {
  const l = settings.limits;
  return [
    ...['--zim-plan', l.plan, '--retention-days', String(l.retentionDays)],
    ...['--max-group-members', String(l.maxGroupMembers), '--max-friends', String(l.maxFriendsPerUser)],
    ...['--max-blocks', String(l.maxBlocksPerUser), '--message-bytes', String(l.messageBytes)],
    ...['--user-extra-bytes', String(l.userExtraBytes)],
    ...(settings.asOfGiven ? ['--as-of', String(settings.asOfMs)] : []),
  ];
}

export function parseImportOptions(raw: unknown, now = Date.now()): ImportSettings {
  const o = parseOrUsage(rawImportOptions, raw);
  const { limits, asOfMs } = zimPlanSettings(o, now);
  return {
    limits,
    asOfMs,
    merge: {
      prefer: o.prefer
        ? o.prefer
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
      groupIdPrefix: keyValues('--group-id-prefix', o.groupIdPrefix),
      messageIdPrefix: keyValues('--message-id-prefix', o.messageIdPrefix),
    },
    rejectsFile: o.rejects,
    json: o.json,
  };
}

/** `--rate Action=N` flags over the default budgets. */
export function parseRates(flags: readonly string[]): Record<MigrationAction, number> {
  const rates = { ...DEFAULT_RATES };
  for (const [action, value] of Object.entries(keyValues('--rate', flags))) {
    if (!(MIGRATION_ACTIONS as readonly string[]).includes(action))
      throw new UsageError(`--rate ${action}: not an Action; use one of ${MIGRATION_ACTIONS.join(', ')}`);
    const n = Number(value);
    if (!(n > 0) || !Number.isFinite(n))
      throw new UsageError(`--rate ${action}=${value}: the rate must be a positive number of calls per second`);
    rates[action as MigrationAction] = n;
  }
  return rates;
}

function keyValues(flag: string, pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1) throw new UsageError(`${flag} ${pair}: expected NAME=VALUE`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export function parseOrUsage<T>(schema: z.ZodType<T>, raw: unknown): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
}

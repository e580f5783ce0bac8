/**
 * `zim-migrate catch-up <staging> <export-dir>`: a catch-up round (issue #13). With --dry-run, what the round would
 * carry from the migration's staging to a later export of the same app, and what it would cost; without, the round
 * is staged in the migration's staging (src/catch-up/stage-round.ts) and run by the round workflow
 * (workflows/round.ts), followed like `status --watch` follows a migration.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import { CHANGE_KINDS } from '../../catch-up/change-kinds';
import type { RoundAction } from '../../catch-up/difference';
import { planRound, type RoundPlan } from '../../catch-up/plan-round';
import { ManifestError, readManifest } from '../../import-format/manifest';
import { time } from '../../import-format/schemas';
import { toEpochMs } from '../../import-format/time';
import { formatDuration } from '../../shared/format-duration';
import { UsageError } from '../../shared/usage-error';
import { renderValidation } from '../../validate/render-validation';
import { parseExportDirs, parseOrUsage } from '../import-options';
import { stageRound } from '../../catch-up/stage-round';
import { roundMigrationId } from '../../shared/rounds';
import { ZIM_MIGRATION_ID, ZIM_MIGRATION_STAGE, ZIM_MIGRATION_STATUS } from '../../shared/search-attributes';
import { workflowIds } from '../../shared/workflow-api';
import { redactIfUrl, redactUrl } from '../../postgres/database-settings';
import { isDatabaseUrl, openStaging, stagingLocation } from '../../staging';
import type { TemporalSettings } from '../../temporal-connection/connect';
import { resolveTemporalSettings } from '../../temporal-connection/connect';
import { settingLayers } from '../setting-layers';
import { resolveStartSettings } from '../../config/start-settings';
import {
  DEFAULT_WATCH_EVERY_SECONDS,
  followMigration,
  migrationName,
  parseBudget,
  uiLink,
  urlHasPassword,
  withClient,
} from './migration-control';

const options = z.object({
  dryRun: z.boolean(),
  name: migrationName.optional(),
  watch: z.boolean(),
  every: z.coerce.number({ error: '--every must be a number of seconds' }).min(1).max(86_400),
  json: z.boolean(),
  rejects: z.string().min(1),
  budget: z.array(z.string()).optional(),
  asOf: z
    .string()
    .transform((s) => (/^\d+$/.test(s) ? Number(s) : s))
    .pipe(time)
    .optional(),
});

function readManifestOrUsage(dir: string) {
  try {
    return readManifest(dir);
  } catch (err) {
    throw err instanceof ManifestError ? new UsageError(err.message) : err;
  }
}

const n = (v: number) => v.toLocaleString('en-US');

export function renderRoundPlan(r: RoundPlan): string {
  const d = r.difference;
  if (!d) return 'The later export has errors: nothing to compare (fix them, then run catch-up again).';
  const width = Math.max(...CHANGE_KINDS.map((k) => k.length));
  const lines = [
    `Catch-up round from ${redactIfUrl(r.staging)} to ${r.export}` +
      (r.untilMs === null ? '' : ` (as of ${new Date(r.untilMs).toISOString()})`) +
      ':',
    '',
    `  ${'change'.padEnd(width)}  records`,
    ...CHANGE_KINDS.map((k) => `  ${k.padEnd(width)}  ${n(d.changes[k]).padStart(7)}`),
    '',
    '  ZIM calls of the round alone:',
    ...(Object.entries(r.seconds) as [RoundAction, number][]).map(
      ([action, s]) => `    ${action.padEnd(26)} ${n(d.calls[action]).padStart(9)}   ${formatDuration(Math.ceil(s))}`
    ),
    `  ETA of the round at its budgets: ${formatDuration(r.etaSeconds)}`,
  ];
  if (d.changes['messages.late'] > 0) {
    lines.push(
      '',
      `  ${n(d.changes['messages.late'])} new message(s) are older than the newest one their conversation already holds.`,
      "  ZIM keeps history in order, so they are not imported; they are listed here and in the round's report.",
      '  To carry them, the conversation would have to be imported again from scratch. First ones:',
      ...d.late.map(
        (l) =>
          `    ${l.sourceId} in ${l.conversation}: sent ${new Date(l.sentAt).toISOString()}, ` +
          `newest ${new Date(l.newestAt).toISOString()}`
      )
    );
  }
  if (d.messagesGone > 0)
    lines.push('', `  ${n(d.messagesGone)} message(s) staged earlier are not in this export: ZIM keeps them.`);
  return lines.join('\n');
}

export function registerCatchUpCommand(program: Command): void {
  program
    .command('catch-up')
    .description("Compare a later export of the app with a migration's staging, and plan the round that closes the gap")
    .argument('<staging>', "the migration's staging: the file or postgres:// URL start ran from")
    .argument('<export-dir>', 'a later export of the same app: full, or incremental (export.json, deletions.ndjson)')
    .option('--dry-run', "print the difference and the round's plan; touch neither ZIM nor the staging", false)
    .option(
      '--name <migration>',
      'the migration this round continues (default: the one that last ran from the staging file); a check'
    )
    .option('--no-watch', 'start the round and return (follow it with zim-migrate status <migration>-round-<n>)')
    .option(
      '--every <seconds>',
      'when output is not a terminal: a progress line at most this often',
      String(DEFAULT_WATCH_EVERY_SECONDS)
    )
    .option('--task-queue <name>', "the workers' task queue (default zim-migrate; env ZIM_MIGRATE_TASK_QUEUE)")
    .option(
      '--budget <Action=rate...>',
      'calls/s for an Action, e.g. DeleteFriends=5 (repeatable; over "budgets" in the config file): the plan\'s ETA and the round'
    )
    .option('--as-of <time>', '"now" for the future and retention checks (ms or ISO-8601; default: now)')
    .option('--rejects <file>', "where the later export's rejects go (NDJSON)", 'catch-up-rejects.ndjson')
    .option('--json', 'print the round plan as JSON', false)
    .addHelpText(
      'after',
      `
A migration takes days while the legacy app keeps changing. Export the app again, then compare: catch-up
validates the later export with the migration's own ZIM plan limits, stages it beside the migration (and
removes it afterwards), and prints what changed by kind (accounts, profiles, closed accounts, friendships and
blocks added and removed, groups created, changed, dismissed and transferred, members joined and left, roles,
nicknames, new messages) with the ZIM calls each Action needs and the round's ETA. New messages older than
their conversation's newest already staged are conflicts: ZIM keeps history in order, so they are listed, not
imported.

An incremental export (export.json {"kind":"incremental",...}: changed records and tombstones only) is applied
to what the migration staged and handled as the full export it makes; a tombstone for a record never staged is
an error naming it. Rehearse with gen --evolve, and --incremental for a delta (zim-migrate gen --help).

Without --dry-run the round runs: it is staged in the migration's own staging file as round n (the first
catch-up is round 1) and the workers (zim-migrate worker, same options as for start) run it as workflow
zim-migrate/<migration>-round-<n>, in order: new accounts, changed profiles (only the changed fields),
friendships and blocks removed then added, new groups, group data and attributes, members joined, owner
transfers, members left, roles, nicknames, dismissed groups, then the new messages after what each
conversation already holds, and verify of the final state. The ledger keeps it exact: a message imported
earlier is never sent again, and a round that stopped (a crash, cancel) resumes when you run the same command
again. A new round needs the previous one finished and an export not older than its watermark; a round
starts only after the migration itself completed. status, pause, resume and cancel take
<migration>-round-<n>; report lists the rounds. Rounds run on either staging: a SQLite file, or a
postgres:// URL (the round is computed on a SQLite snapshot of the staged records in the temporary directory
and written back in one transaction; the ledger stays in PostgreSQL, and a second machine staging a round at
the same moment is refused).

Budgets: every Action the round calls (DeleteFriends, RemoveUsersFromBlacklist, UpdateGroupData,
ModifyGroupAttribute, TransferGroupOwner, KickoutGroupUser, SetGroupMemberRole, DismissGroup, ...) takes
--budget Action=N as start's do, over "budgets" in the config file: the plan's ETA is at them and the round
applies them to the call schedule the workers share. Change one while the round runs with
"zim-migrate budget <migration> DeleteFriends=5". Actions without one run at the budget last set in the call
schedule (the migration's), else ZIM's default.

Procedure (docs/operations.md §8): migrate while the app is live; export again and run catch-up rounds until
one is short enough; make the legacy app read-only; run the last round; force the upgrade.

Examples:
  $ zim-migrate catch-up acme.sqlite ./export-2 --dry-run
  $ zim-migrate catch-up acme.sqlite ./export-2                       stage round 1, run it, follow it
  $ zim-migrate catch-up acme.sqlite ./delta-3 --name acme --no-watch  an incremental export, started only
  $ zim-migrate gen --evolve ./sample --out ./sample-2 --seed 2 && zim-migrate catch-up sample.sqlite ./sample-2 --dry-run
  $ zim-migrate catch-up acme.sqlite ./export-2 --budget DeleteFriends=5 --budget DismissGroup=0.5
  $ zim-migrate catch-up acme.sqlite ./export-2 --dry-run --json | jq .difference.changes
  $ zim-migrate catch-up 'postgres://zim@db:5432/zim?schema=acme' ./export-2   a PostgreSQL staging

Exit codes: 0 planned (--dry-run) or the round completed (started, with --no-watch), 1 the later export has
errors or the round ended otherwise, 2 bad usage (wrong migration, an unfinished round, a stale watermark).`
    )
    .action(async (staging: string, exportDir: string, raw: Record<string, unknown>, command: Command) => {
      const o = parseOrUsage(options, raw);
      const layers = settingLayers(command);
      const budgetFlags = Object.fromEntries((o.budget ?? []).map(parseBudget).map((b) => [b.action, b.rate]));
      const { budgets } = resolveStartSettings(layers, budgetFlags);
      if (!o.dryRun) return runRound(staging, exportDir, o, budgets, resolveTemporalSettings(layers));
      // A full export is checked as validate checks one; an incremental one needs only to be there.
      const manifest = readManifestOrUsage(exportDir);
      const [dir] = manifest?.kind === 'incremental' ? [exportDir] : parseExportDirs([exportDir]);
      const plan = await planRound({
        staging,
        exportDir: dir!,
        asOfMs: o.asOf === undefined ? Date.now() : toEpochMs(o.asOf),
        rejectsFile: o.rejects,
        budgets,
      });
      if (o.json) console.log(JSON.stringify(plan, null, 2));
      else {
        if (!plan.difference) console.log(renderValidation(plan.validation, o.rejects, 'not-staged'));
        console.log(renderRoundPlan(plan));
      }
      if (!plan.difference) process.exitCode = 1;
    });
}

/** The migration that last ran from the staging file, checked against --name. */
async function migrationOf(stagingPath: string, given: string | undefined): Promise<string> {
  const store = await openStaging(stagingPath, { readonly: true });
  const last = await store.lastMigration().finally(() => store.close());
  if (last === null)
    throw new UsageError(
      `No migration has run from ${redactIfUrl(stagingPath)}: a catch-up round continues one. Start it first ` +
        `("zim-migrate start ${redactIfUrl(stagingPath)}"), let it complete, then run catch-up.`
    );
  if (given !== undefined && given !== last)
    throw new UsageError(
      `${redactIfUrl(stagingPath)} is the staging of migration "${last}", not "${given}": a round continues the migration ` +
        `whose staging it is. Pass that migration's staging file, or --name ${last}.`
    );
  return last;
}

/** A round starts after the migration itself completed: both write the same staging and ledger. */
async function requireCompleted(client: Client, name: string): Promise<void> {
  try {
    const d = await client.workflow.getHandle(workflowIds.migration(name)).describe();
    if (d.status.name === 'RUNNING')
      throw new UsageError(
        `Migration "${name}" is still running: a catch-up round starts after it completes. ` +
          `Watch it with "zim-migrate status ${name} --watch".`
      );
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}

async function runRound(
  staging: string,
  exportDir: string,
  o: z.infer<typeof options>,
  budgets: Record<string, number>,
  settings: TemporalSettings
): Promise<void> {
  const stagingPath = stagingLocation(staging);
  // The location goes into the round workflow's input, which Temporal stores and shows: never a password.
  if (isDatabaseUrl(stagingPath) && urlHasPassword(stagingPath))
    throw new UsageError(
      `${redactUrl(stagingPath)} holds a password, which would be stored in the round workflow's input: pass the ` +
        'URL without it, and give the workers the password in ZIM_MIGRATE_DATABASE_PASSWORD or ' +
        'ZIM_MIGRATE_DATABASE_PASSWORD_FILE.'
    );
  const name = await migrationOf(stagingPath, o.name);
  await withClient(settings, async (client) => {
    await requireCompleted(client, name);
    const manifest = readManifestOrUsage(exportDir);
    const [dir] = manifest?.kind === 'incremental' ? [exportDir] : parseExportDirs([exportDir]);
    const staged = await stageRound({
      staging: stagingPath,
      exportDir: dir!,
      asOfMs: o.asOf === undefined ? Date.now() : toEpochMs(o.asOf),
      rejectsFile: o.rejects,
      budgets,
    });
    if (staged.kind === 'invalid') {
      console.log(renderValidation(staged.plan.validation, o.rejects, 'not-staged'));
      console.log(renderRoundPlan(staged.plan));
      process.exitCode = 1;
      return;
    }
    const round = staged.round.round;
    if (staged.kind === 'staged') {
      console.log(renderRoundPlan(staged.plan));
      console.log(`\nStaged as round ${round} of migration ${name}.`);
    } else
      console.log(`Round ${round} of migration ${name} (from ${staged.round.exportDir}) did not finish: resuming it.`);
    const id = roundMigrationId(name, round);
    const workflowId = workflowIds.migration(id);
    try {
      await client.workflow.start('roundWorkflow', {
        taskQueue: settings.taskQueue,
        workflowId,
        args: [{ migrationId: name, stagingPath, round, budgets }],
        typedSearchAttributes: [
          { key: ZIM_MIGRATION_ID, value: name },
          { key: ZIM_MIGRATION_STAGE, value: `round-${round}:starting` },
          { key: ZIM_MIGRATION_STATUS, value: 'running' },
        ],
        staticSummary: `Catch-up round ${round} of ${name}`,
        staticDetails: `From ${exportDir}; staging ${stagingPath}.`,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      console.log(`Round ${round} is already running (workflow ${workflowId}): following it.`);
    }
    const ui = uiLink(settings, workflowId);
    console.log(`Started round ${round} (workflow ${workflowId}, task queue ${settings.taskQueue}).`);
    if (ui) console.log(`Temporal UI: ${ui}`);
    if (!o.watch) {
      console.log(`Watch it:    zim-migrate status ${id} --watch`);
      return;
    }
    await followMigration(client, id, settings, { watch: true, json: o.json, every: o.every });
  });
}

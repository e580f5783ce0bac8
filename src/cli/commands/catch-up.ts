/**
 * `zim-migrate catch-up <staging> <export-dir> --dry-run`: what a catch-up round would carry from the migration's
 * staging to a later export of the same app, and what it would cost (issue #13). Running the round is the next step
 * of that issue; until it lands the command plans only, and says so.
 */
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

const options = z.object({
  dryRun: z.boolean(),
  json: z.boolean(),
  rejects: z.string().min(1),
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
    `Catch-up round from ${r.staging} to ${r.export}` +
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
    `  ETA of the round at the migration's budgets: ${formatDuration(r.etaSeconds)}`,
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
    .argument('<staging>', "the migration's staging file (plan --out)")
    .argument('<export-dir>', 'a later export of the same app: full, or incremental (export.json, deletions.ndjson)')
    .option('--dry-run', "print the difference and the round's plan; touch neither ZIM nor the staging", false)
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
an error naming it. Running the round (--dry-run left out) is not available in this version. Rehearse with
gen --evolve, and --incremental for a delta (zim-migrate gen --help).

Examples:
  $ zim-migrate catch-up acme.sqlite ./export-2 --dry-run
  $ zim-migrate gen --evolve ./sample --out ./sample-2 --seed 2 && zim-migrate catch-up sample.sqlite ./sample-2 --dry-run
  $ zim-migrate catch-up acme.sqlite ./export-2 --dry-run --json | jq .difference.changes

Exit codes: 0 planned, 1 the later export has errors, 2 bad usage.`
    )
    .action(async (staging: string, exportDir: string, raw: Record<string, unknown>) => {
      const o = parseOrUsage(options, raw);
      if (!o.dryRun)
        throw new UsageError(
          'running a catch-up round is not available in this version: pass --dry-run to see the difference and its plan'
        );
      // A full export is checked as validate checks one; an incremental one needs only to be there.
      const manifest = readManifestOrUsage(exportDir);
      const [dir] = manifest?.kind === 'incremental' ? [exportDir] : parseExportDirs([exportDir]);
      const plan = await planRound({
        staging,
        exportDir: dir!,
        asOfMs: o.asOf === undefined ? Date.now() : toEpochMs(o.asOf),
        rejectsFile: o.rejects,
      });
      if (o.json) console.log(JSON.stringify(plan, null, 2));
      else {
        if (!plan.difference) console.log(renderValidation(plan.validation, o.rejects, 'not-staged'));
        console.log(renderRoundPlan(plan));
      }
      if (!plan.difference) process.exitCode = 1;
    });
}

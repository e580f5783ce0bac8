import { Option, type Command } from 'commander';
import { z } from 'zod';
import { time } from '../../import-format/schemas';
import { toEpochMs } from '../../import-format/time';
import { UsageError } from '../../shared/usage-error';
import { ManifestError } from '../../import-format/manifest';
import { evolveExport, EvolveError } from '../../synthetic/evolve';
import { generateExport } from '../../synthetic/generate';
import { generateRealShapeExport, REAL_SHAPE_PLAN_FLAGS } from '../../synthetic/real-shape';
import { parseOrUsage } from '../import-options';

const int = (flag: string, min: number) =>
  z.coerce
    .number({ error: `${flag} must be a number` })
    .int(`${flag} must be a whole number`)
    .min(min, `${flag} must be at least ${min}`);

const genOptions = z.object({
  out: z.string().min(1),
  users: int('--users', 2).optional(),
  seed: int('--seed', 0),
  messages: int('--messages', 0).optional(),
  groups: int('--groups', 0).optional(),
  groupMessages: int('--group-messages', 0).optional(),
  bad: int('--bad', 0),
  days: int('--days', 1),
  end: z
    .string()
    .transform((s) => (/^\d+$/.test(s) ? Number(s) : s))
    .pipe(time)
    .optional(),
  gzip: z.boolean(),
  json: z.boolean(),
  shape: z.enum(['synthetic', 'real']),
  evolve: z.string().min(1).optional(),
  incremental: z.boolean(),
  until: z
    .string()
    .transform((s) => (/^\d+$/.test(s) ? Number(s) : s))
    .pipe(time)
    .optional(),
  change: z.coerce
    .number({ error: '--change must be a number' })
    .gt(0, '--change must be above 0')
    .max(1, '--change is a share, at most 1'),
  late: int('--late', 0),
});

/** What only a fresh export takes, and what only --evolve takes. */
const FRESH_ONLY = {
  users: '--users',
  messages: '--messages',
  groups: '--groups',
  groupMessages: '--group-messages',
  bad: '--bad',
  days: '--days',
  end: '--end',
  shape: '--shape',
  gzip: '--gzip',
} as const;
const EVOLVE_ONLY = { incremental: '--incremental', until: '--until', change: '--change', late: '--late' } as const;

/** The synthetic shape's options that the real shape has no use for (its history is fixed, its bad records too). */
const SYNTHETIC_ONLY = { bad: '--bad', days: '--days', end: '--end' } as const;

export function registerGenCommand(program: Command): void {
  program
    .command('gen')
    .description('Write a deterministic sample export, clean or shaped like a messy real one')
    .requiredOption('--out <dir>', 'the export directory to write')
    .option('--users <n>', 'number of users (--shape real: with valid ids); required unless --evolve')
    .option('--seed <n>', 'random seed: the same options give the same bytes', '1')
    .addOption(
      new Option('--shape <shape>', 'synthetic (clean, recent) or real (a messy real-world export, below)')
        .choices(['synthetic', 'real'])
        .default('synthetic')
    )
    .option('--messages <n>', 'one-to-one messages (default 20 per user)')
    .option('--groups <n>', 'groups (default one per 25 users)')
    .option('--group-messages <n>', 'group messages (default a quarter of --messages)')
    .option('--bad <n>', 'inject this many bad one-to-one records, one of each kind in turn (for tests)', '0')
    .option('--days <n>', 'messages fall within this many days before --end', '20')
    .option('--end <time>', 'messages are sent before this time (ms or ISO-8601; default today 00:00 UTC)')
    .option('--gzip', 'write .ndjson.gz files', false)
    .option('--json', 'print the summary as JSON', false)
    .option('--evolve <earlier-export>', 'write a later export of the app in <earlier-export> (catch-up rounds, below)')
    .option('--incremental', 'with --evolve: only the changes, their tombstones and watermarks', false)
    .option('--until <time>', "with --evolve: the later export's watermark (default a day later, or now if sooner)")
    .option('--change <share>', 'with --evolve: share of the records changed per kind', '0.05')
    .option('--late <n>', "with --evolve: messages older than their conversation's newest (conflicts)", '0')
    .addHelpText(
      'after',
      `
The synthetic shape is realistic on purpose: power-law conversation and group sizes, text in Latin, CJK,
Cyrillic, Devanagari, Arabic and Hebrew with emoji, media and custom messages, messages deleted by one side,
mutual and one-way friendships, blocks, groups up to 200 members, deactivated accounts, ms and ISO-8601 times.

--shape real writes an export shaped like a messy real one (issue #16; docs/import-format.md#a-real-shaped-export):
user and group ids with | [ ] { } ~ # % & and spaces (some of 32 bytes), message ids with backquotes, quotes,
pipes and spaces, history from 2015 to 2019 only, a largest room of min(700, users) members with admins and
nicknames, one very long conversation among many tiny ones, runs of equal send times, deactivated users. On top
of --users and --messages come the records ZIM cannot take as they are, as the real export had them: users whose
id has a backquote and every record naming them (id.invalid), empty texts and messages without a sender
(record.schema); --json counts them by file, kind and rule. --bad, --days and --end are for the synthetic shape.
Validate or plan it with ${REAL_SHAPE_PLAN_FLAGS.join(' ')} (--exclude-errors stages every valid
record and lists the rest).

--evolve <earlier-export> writes what the same app holds later, for rehearsing catch-up rounds: new accounts,
changed profiles, closed accounts, friendships and blocks added and removed, groups created, changed and
dismissed, owners transferred, members joined and left, roles and nicknames changed, new one-to-one and group
messages after each conversation's newest (--late N adds messages older than that, which a round reports as
conflicts). It writes a full export with export.json {"kind":"full","until":...}; with --incremental only the
changes, deletions.ndjson (tombstones) and export.json {"kind":"incremental","since":...,"until":...}, where since
is the earlier export's watermark (docs/import-format.md#incremental-exports). --json counts the changes by kind.

Examples:
  $ zim-migrate gen --out ./sample --users 1000 --seed 7          about 20,000 one-to-one messages
  $ zim-migrate gen --evolve ./sample --out ./sample-2 --seed 8   the same app a day later, in full
  $ zim-migrate gen --evolve ./sample-2 --out ./delta-3 --incremental --seed 9
  $ zim-migrate gen --out ./big --users 50000 --messages 1000000 --gzip
  $ zim-migrate gen --out ./broken --users 200 --bad 26 && zim-migrate validate ./broken
  $ zim-migrate gen --out ./messy --shape real --users 12700 --messages 216000 --groups 520
  $ zim-migrate plan ./messy --out messy.sqlite ${REAL_SHAPE_PLAN_FLAGS.join(' ')} --exclude-errors

Exit codes: 0 written, 1 failure, 2 bad usage.`
    )
    .action(async (raw: Record<string, unknown>, cmd: Command) => {
      const o = parseOrUsage(genOptions, raw);
      const given = (flags: Record<string, string>) =>
        Object.entries(flags).find(([key]) => cmd.getOptionValueSource(key) === 'cli')?.[1];
      if (o.evolve !== undefined) {
        const fresh = given(FRESH_ONLY);
        if (fresh) throw new UsageError(`${fresh} is for a new export; --evolve keeps the earlier export's app`);
        const summary = await evolveExport({
          from: o.evolve,
          out: o.out,
          seed: o.seed,
          incremental: o.incremental,
          untilMs: o.until === undefined ? undefined : toEpochMs(o.until),
          change: o.change,
          late: o.late,
        }).catch((err: unknown) => {
          throw err instanceof EvolveError || err instanceof ManifestError ? new UsageError(err.message) : err;
        });
        if (o.json) console.log(JSON.stringify(summary, null, 2));
        else
          console.log(
            `Wrote ${summary.dir} (${summary.kind}, ${new Date(summary.sinceMs).toISOString()} → ` +
              `${new Date(summary.untilMs).toISOString()}): ` +
              Object.entries(summary.changes)
                .filter(([, n]) => n > 0)
                .map(([kind, n]) => `${kind} ${n.toLocaleString('en-US')}`)
                .join(', ')
          );
        return;
      }
      const evolveOnly = given(EVOLVE_ONLY);
      if (evolveOnly) throw new UsageError(`${evolveOnly} applies with --evolve <earlier-export> only`);
      if (o.users === undefined) throw new UsageError('--users is required (or --evolve <earlier-export>)');
      const users = o.users;
      if (o.shape === 'real') {
        for (const [key, flag] of Object.entries(SYNTHETIC_ONLY))
          if (cmd.getOptionValueSource(key) === 'cli')
            throw new UsageError(`${flag} applies to --shape synthetic only (the real shape's history is 2015-2019)`);
        const summary = await generateRealShapeExport({
          out: o.out,
          users,
          seed: o.seed,
          peerMessages: o.messages,
          groups: o.groups,
          groupMessages: o.groupMessages,
          gzip: o.gzip,
        });
        if (o.json) console.log(JSON.stringify(summary, null, 2));
        else {
          const bad = summary.unimportable.reduce((n, u) => n + u.count, 0);
          const rules = Object.entries(summary.injected).map(([rule, n]) => `${rule} ${n}`);
          console.log(
            `Wrote ${summary.dir} (real shape): ` +
              Object.entries(summary.records)
                .map(([entity, n]) => `${n.toLocaleString('en-US')} ${entity}`)
                .join(', ') +
              `, plus ${bad.toLocaleString('en-US')} records ZIM cannot take as they are (${rules.join(', ')}).\n` +
              `Validate or plan it with ${REAL_SHAPE_PLAN_FLAGS.join(' ')} (and --exclude-errors to stage the rest).`
          );
        }
        return;
      }
      const summary = await generateExport({
        out: o.out,
        users,
        seed: o.seed,
        peerMessages: o.messages,
        groups: o.groups,
        groupMessages: o.groupMessages,
        badRecords: o.bad,
        days: o.days,
        endMs: o.end === undefined ? undefined : toEpochMs(o.end),
        gzip: o.gzip,
      });
      if (o.json) console.log(JSON.stringify(summary, null, 2));
      else
        console.log(
          `Wrote ${summary.dir}: ` +
            Object.entries(summary.records)
              .map(([entity, n]) => `${n.toLocaleString('en-US')} ${entity}`)
              .join(', ') +
            (o.bad ? `, plus ${o.bad} bad records` : '')
        );
    });
}

/**
 * `zim-migrate staging copy <from> <to>`: moves a staged migration, ledger included, between a SQLite file and a
 * PostgreSQL database (either way), so workers on several machines can share it. Connection settings for a
 * postgres:// URL come from the environment (ZIM_MIGRATE_DATABASE_*); every URL printed has its password removed.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { isDatabaseUrl, redactIfUrl } from '../../postgres/database-settings';
import { UsageError } from '../../shared/usage-error';
import { copyStaging } from '../../staging/copy/copy-staging';

const optionsSchema = z.object({
  force: z.boolean().default(false),
  json: z.boolean().default(false),
  batchRows: z.coerce
    .number()
    .int('--batch-rows must be a whole number')
    .min(1, '--batch-rows must be from 1 to 50000')
    .max(50_000, '--batch-rows must be from 1 to 50000')
    .optional(),
});

const where = (s: string) => (isDatabaseUrl(s) ? s : path.resolve(s));

export function registerStagingCommand(program: Command): void {
  const staging = program
    .command('staging')
    .description('Move a staged migration between a SQLite file and PostgreSQL')
    .addHelpText(
      'after',
      `
Examples:
  $ zim-migrate staging copy acme.sqlite 'postgres://zim@db.internal:5432/zim?schema=acme'

Exit codes: 0 done, 1 failure, 2 bad usage.`
    );
  staging
    .command('copy')
    .description('Copy a staged migration, ledger included, from <from> to <to> (a SQLite file or a postgres:// URL)')
    .argument('<from>', 'a staging file built by plan, or a postgres:// URL (?schema=NAME: the migration’s schema)')
    .argument('<to>', 'a new SQLite file, or a postgres:// URL')
    .option('--force', 'replace a staged migration (and its ledger) already at <to>')
    .option('--batch-rows <n>', 'rows read and written at a time (default 2000)')
    .option('--json', 'print the rows copied per table as JSON')
    .addHelpText(
      'after',
      `
Copies what a migration reads and writes: users, relations, groups and members, message bodies and their read
orders, the plan (meta), and the ledger's outcomes, with the migration's name and its call gate. Tables stream in
batches (memory stays flat), the target is written in one transaction (PostgreSQL) or a file renamed into place
(SQLite), and every table's row count is compared on both sides before the copy becomes visible. Copy while no
worker runs from the source (leases of attempts in flight are not copied). The PostgreSQL password comes from
ZIM_MIGRATE_DATABASE_PASSWORD or ZIM_MIGRATE_DATABASE_PASSWORD_FILE, never from the command line.

Examples:
  $ zim-migrate plan ./export --out acme.sqlite
  $ ZIM_MIGRATE_DATABASE_PASSWORD_FILE=/run/secrets/db zim-migrate staging copy acme.sqlite \\
      'postgres://zim@db.internal:5432/zim?schema=acme'
  $ zim-migrate staging copy 'postgres://zim@db.internal/zim?schema=acme' back.sqlite --json

Exit codes: 0 copied and counts checked, 1 failure (nothing copied), 2 bad usage (a staged target without --force).`
    )
    .action(async (from: string, to: string, raw: Record<string, unknown>) => {
      const parsed = optionsSchema.safeParse(raw);
      if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join('; '));
      const opts = parsed.data;
      const result = await copyStaging(where(from), where(to), { force: opts.force, batchRows: opts.batchRows });
      if (opts.json) {
        console.log(JSON.stringify({ from: redactIfUrl(where(from)), to: redactIfUrl(where(to)), ...result }));
        return;
      }
      const total = Object.values(result.rows).reduce((a, b) => a + b, 0);
      console.log(
        `Copied ${redactIfUrl(where(from))} → ${redactIfUrl(where(to))} in ${(result.ms / 1000).toFixed(1)} s:`
      );
      for (const [table, n] of Object.entries(result.rows)) console.log(`  ${table.padEnd(15)} ${n}`);
      console.log(`${total} rows; every table's row count matches the source.`);
    });
}

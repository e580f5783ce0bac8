import type { Command } from 'commander';
import { redactIfUrl } from '../../postgres/database-settings';
import { buildPlan } from '../../plan/build-plan';
import { renderPlan } from '../../plan/render-plan';
import { renderValidation } from '../../validate/render-validation';
import { resolveStepMs } from '../../config/plan-settings';
import { settingLayers } from '../setting-layers';
import { addImportOptions, parseExportDirs, parseImportOptions, parseRates } from '../import-options';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerPlanCommand(program: Command): void {
  addImportOptions(
    program
      .command('plan')
      .description(
        'Validate and merge exports, stage them for the migration, and print the plan (calls, refusals, ETA)'
      )
      .argument('<dir...>', 'export directories (one per legacy app; see docs/import-format.md)')
      .requiredOption(
        '--out <file|url>',
        'the staging file to write (an embedded database the migration reads), or a postgres:// URL (?schema=NAME)'
      )
      .option(
        '--rate <Action=N>',
        'calls per second for a ZIM Action (repeatable; default 20, InviteUsersIntoGroup 1 per group)',
        collect
      )
      .option(
        '--exclude-errors',
        'stage what is valid even if some records have errors (they are listed, not imported)',
        false
      )
      .option('--force', 'replace an existing staging file (and the ledger in it)', false)
      .option(
        '--step-ms <ms>',
        'the time of one chain step (one message import, slot to ledger) the ETA is timed at ' +
          '(env ZIM_MIGRATE_STEP_MS, config "stepMs"; default: measured by npm run bench:chain)'
      )
  )
    .addHelpText(
      'after',
      `
The ETA is the critical path of the stage graph (accounts, then profiles, friends, blocks, one-to-one
history and groups side by side, group history after groups, verification last) at the configured
rate of each Action. A one-to-one message costs one ImportPeerMsg call per side that keeps it.
Messages of one conversation copy (and of one group) are imported one after the other, so a stage also
takes at least its longest chain × one step (--step-ms): with high rates that chain term, printed when it
binds, sets the stage's time, and raising the rates further does not shorten it.

Examples:
  $ zim-migrate plan ./export --out staging.db
  $ zim-migrate plan ./export --out staging.db --rate ImportPeerMsg=50 --json | jq .plan.etaSeconds
  $ zim-migrate plan ./app-a ./app-b --out staging.db --group-id-prefix app-b=b_ --exclude-errors
  $ zim-migrate plan ./export --out 'postgres://zim@db.internal/zim?schema=acme'   (password: ZIM_MIGRATE_DATABASE_*)

Exit codes: 0 staged, 1 errors found (nothing staged without --exclude-errors) or a failure,
2 bad usage (an unknown option; a missing directory, a file, or a directory without export files given as an
export; an existing --out without --force).`
    )
    .action(async (dirs: string[], raw: Record<string, unknown>, command: Command) => {
      const settings = parseImportOptions(raw);
      const stepMs = resolveStepMs(settingLayers(command)).value;
      const exportDirs = parseExportDirs(dirs);
      const rates = parseRates((raw.rate as string[] | undefined) ?? []);
      const result = await buildPlan({
        dirs: exportDirs,
        ...settings,
        out: raw.out as string,
        rates,
        stepMs,
        excludeErrors: raw.excludeErrors === true,
        force: raw.force === true,
      });
      if (settings.json) {
        const stagingFile = result.stagingFile === null ? null : redactIfUrl(result.stagingFile);
        console.log(JSON.stringify({ ...result, stagingFile }, null, 2));
      } else {
        console.log(renderValidation(result.validation, settings.rejectsFile, result.plan ? 'staged' : 'not-staged'));
        if (result.plan) console.log(`\nStaged in ${redactIfUrl(result.stagingFile!)}\n\n${renderPlan(result.plan)}`);
      }
      if (result.validation.errors > 0 && !result.plan) process.exitCode = 1;
    });
}

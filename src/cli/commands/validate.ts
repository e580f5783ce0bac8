import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { renderValidation } from '../../validate/render-validation';
import { validateExports } from '../../validate/validate-exports';
import { addImportOptions, parseExportDirs, parseImportOptions } from '../import-options';

export function registerValidateCommand(program: Command): void {
  addImportOptions(
    program
      .command('validate')
      .description("Check one or more legacy exports against the import format and ZIM's rules; touches nothing in ZIM")
      .argument('<dir...>', 'export directories (one per legacy app; see docs/import-format.md)')
      .option(
        '--work-dir <dir>',
        'where the temporary database for the cross-record checks goes (default: the system temp dir)'
      )
  )
    .addHelpText(
      'after',
      `
Every problem is a reject naming file, line, record id, the rule and the fix; all go to the rejects
file (NDJSON) and a summary is printed. Errors make the export unimportable; warnings (e.g. history
older than the ZIM plan's retention, which ZIM refuses) are for you to decide.

Examples:
  $ zim-migrate validate ./export                       one app, Pro plan limits, rejects in ./rejects.ndjson
  $ zim-migrate validate ./export --zim-plan enterprise --retention-days 180
  $ zim-migrate validate ./app-a ./app-b --prefer app-b --group-id-prefix app-b=b_
                                                        two apps merged into one ZIM app; app-b wins profile conflicts
  $ zim-migrate validate ./export --json --rejects /tmp/rejects.ndjson | jq .errors

Exit codes: 0 no errors (warnings allowed), 1 errors found or a failure, 2 bad usage (an unknown option; a
missing directory, a file, or a directory without export files given as an export).`
    )
    .action(async (dirs: string[], raw: Record<string, unknown>) => {
      const settings = parseImportOptions(raw);
      const exportDirs = parseExportDirs(dirs);
      const work = mkdtempSync(path.join((raw.workDir as string | undefined) ?? tmpdir(), 'zim-validate-'));
      try {
        const { db, result } = await validateExports({
          dirs: exportDirs,
          ...settings,
          stagingFile: path.join(work, 'validate.db'),
        });
        db.close();
        console.log(settings.json ? JSON.stringify(result, null, 2) : renderValidation(result, settings.rejectsFile));
        if (result.errors > 0) process.exitCode = 1;
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    });
}

/** `zim-migrate`: the one command people use to rehearse, run, watch and verify a migration into ZEGO ZIM. */
import { Command } from 'commander';
import packageJson from '../../package.json';
import { UsageError } from '../shared/usage-error';
import { registerGenCommand } from './commands/gen';
import { registerPlanCommand } from './commands/plan';
import { registerTemporalCliCommand } from './commands/temporal-cli';
import { registerValidateCommand } from './commands/validate';

export function buildProgram(): Command {
  const program = new Command('zim-migrate')
    .description(
      'Move a legacy chat app into ZEGO ZIM (accounts, profiles, friends, blocklists, 1:1 and group history),\n' +
        'exactly once, as a durable Temporal workflow that you can pause, resume and verify.'
    )
    .version(packageJson.version)
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  $ zim-migrate temporal-cli            find (or install) the Temporal CLI and say which one is used
  $ zim-migrate gen --out ./sample --users 1000     write a synthetic export
  $ zim-migrate validate ./sample                   check an export against the format and ZIM's rules
  $ zim-migrate plan ./sample --out staging.db      stage it and print calls per Action and the ETA

Exit codes: 0 success, 1 failure (the message names what failed and how to fix it), 2 bad usage.`
    );
  program.exitOverride((err) => {
    process.exit(err.exitCode === 1 && err.code.startsWith('commander.') ? 2 : err.exitCode);
  });
  registerTemporalCliCommand(program);
  registerValidateCommand(program);
  registerPlanCommand(program);
  registerGenCommand(program);
  return program;
}

if (require.main === module || process.argv[1]?.endsWith('zim-migrate.js')) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      console.error(`zim-migrate: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(err instanceof UsageError ? 2 : 1);
    });
}

/** `zim-migrate`: the one command people use to rehearse, run, watch and verify a migration into ZEGO ZIM. */
import { Command } from 'commander';
import packageJson from '../../package.json';
import { UsageError } from '../shared/usage-error';
import { registerDevCommand } from './commands/dev';
import { registerEmulatorCommand } from './commands/emulator';
import { registerGenCommand } from './commands/gen';
import { registerMigrationControlCommands } from './commands/migration-control';
import { registerPlanCommand } from './commands/plan';
import { registerReportCommand } from './commands/report';
import { registerTemporalCliCommand } from './commands/temporal-cli';
import { registerValidateCommand } from './commands/validate';
import { registerWorkerCommand } from './commands/worker';

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
  $ zim-migrate dev                                a full local rehearsal: Temporal + UI, ZIM emulator, worker, sample
  $ zim-migrate gen --out ./sample --users 1000    write a synthetic export
  $ zim-migrate validate ./sample                  check an export against the format and ZIM's rules
  $ zim-migrate plan ./sample --out acme.sqlite    stage it; print calls per Action and the ETA
  $ zim-migrate start ./acme.sqlite                start migration "acme" (a worker must be running)
  $ zim-migrate status acme --watch                live progress per stage, rate against budget, ETA
  $ zim-migrate pause acme --reason "peak"         no new ZIM call starts until "zim-migrate resume acme"
  $ zim-migrate emulator --app-id 1234             a local ZIM server API emulator (secret from ZIM_SERVER_SECRET)
  $ zim-migrate temporal-cli                       find (or install) the Temporal CLI and say which one is used

Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_* or a TEMPORAL_PROFILE
(the Temporal CLI's conventions). ZIM: ZIM_APP_ID, ZIM_SERVER_SECRET or ZIM_SERVER_SECRET_FILE, ZIM_BASE_URL.

Exit codes: 0 success, 1 failure (the message names what failed and how to fix it), 2 bad usage.`
    );
  program.exitOverride((err) => {
    process.exit(err.exitCode === 1 && err.code.startsWith('commander.') ? 2 : err.exitCode);
  });
  registerDevCommand(program);
  registerGenCommand(program);
  registerValidateCommand(program);
  registerPlanCommand(program);
  registerMigrationControlCommands(program);
  registerReportCommand(program);
  registerWorkerCommand(program);
  registerEmulatorCommand(program);
  registerTemporalCliCommand(program);
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

/** `zim-migrate`: the one command people use to rehearse, run, watch and verify a migration into ZEGO ZIM. */
import { Command } from 'commander';
import packageJson from '../../package.json';
import { registerEmulatorCommand } from './commands/emulator';
import { registerTemporalCliCommand } from './commands/temporal-cli';

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
  $ zim-migrate emulator --app-id 1234  run a local ZIM server API emulator (secret from ZIM_SERVER_SECRET)

Exit codes: 0 success, 1 failure (the message names what failed and how to fix it), 2 bad usage.`
    );
  program.exitOverride((err) => {
    process.exit(err.exitCode === 1 && err.code.startsWith('commander.') ? 2 : err.exitCode);
  });
  registerTemporalCliCommand(program);
  registerEmulatorCommand(program);
  return program;
}

if (require.main === module || process.argv[1]?.endsWith('zim-migrate.js')) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      console.error(`zim-migrate: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
}

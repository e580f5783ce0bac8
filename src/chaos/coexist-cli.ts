/**
 * `npm run chaos -- --coexist`: the coexistence chaos run's flags and its action (the migration's are in cli.ts).
 * Progress on stderr, the one summary line on stdout, exit code 1 unless exact.
 */
import { z } from 'zod';
import { countFlag } from './count-flag';
import { coexistChaosPassed, coexistChaosSummary } from './coexist-summary';
import { runCoexistChaos } from './run-coexist-chaos';

/** Defaults of --coexist: a CI-size run, about a minute. */
export const COEXIST_DEFAULTS = { kills: 2, receiverKills: 1, serverRestarts: 1, coexistRounds: 30 } as const;
/** Pause between two rounds of traffic: 30 rounds take about 12 s, long enough for the kills to land in them. */
const PACE_MS = 400;

export const coexistChaosFlagsSchema = z
  .object({
    kills: countFlag('--kills', 0, 100),
    receiverKills: countFlag('--receiver-kills', 0, 100),
    serverRestarts: countFlag('--server-restarts', 0, 100),
    longOutages: countFlag('--long-outages', 0, 100),
    coexistRounds: countFlag('--coexist-rounds', 1, 1_000),
    seed: countFlag('--seed', 0, 2 ** 31 - 1),
    timeoutMinutes: countFlag('--timeout-minutes', 1, 24 * 60),
    faults: z.enum(['on', 'off'], { error: '--faults must be on or off' }).transform((v) => v === 'on'),
    keep: z.boolean(),
  })
  .superRefine((f, ctx) => {
    if (f.longOutages > f.serverRestarts)
      ctx.addIssue({
        code: 'custom',
        message: `--long-outages must be at most --server-restarts (${f.serverRestarts})`,
      });
  });

/** Flags of the migration run that a coexistence run has no use for. */
export const MIGRATION_ONLY_FLAGS = [
  'users',
  'staging',
  'machines',
  'workersPerMachine',
  'postgresRestarts',
  'rate',
  'rounds',
] as const;
/** And the other way round. */
export const COEXIST_ONLY_FLAGS = ['receiverKills', 'coexistRounds', 'longOutages'] as const;

/** Runs it; returns the exit code. `given` says which flags were typed (the others take --coexist's defaults). */
export async function coexistChaosAction(raw: Record<string, unknown>, given: (key: string) => boolean) {
  const parsed = coexistChaosFlagsSchema.safeParse({
    ...raw,
    kills: given('kills') ? raw.kills : COEXIST_DEFAULTS.kills,
    receiverKills: raw.receiverKills ?? COEXIST_DEFAULTS.receiverKills,
    // The migration's default (2) is not --coexist's.
    serverRestarts: given('serverRestarts') ? raw.serverRestarts : COEXIST_DEFAULTS.serverRestarts,
    longOutages: raw.longOutages ?? 0,
    coexistRounds: raw.coexistRounds ?? COEXIST_DEFAULTS.coexistRounds,
    seed: raw.seed ?? Date.now() % 100_000,
  });
  if (!parsed.success) {
    console.error(`chaos: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    return 2;
  }
  const f = parsed.data;
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      console.error('[chaos] stopping: the receiver, the worker, the servers and the emulator are shut down');
      stop.abort();
    });
  const result = await runCoexistChaos({
    seed: f.seed,
    workerKills: f.kills,
    receiverKills: f.receiverKills,
    serverRestarts: f.serverRestarts,
    longOutages: f.longOutages,
    rounds: f.coexistRounds,
    paceMs: PACE_MS,
    faults: f.faults,
    timeoutMs: f.timeoutMinutes * 60_000,
    keepFiles: f.keep,
    log: (line) => console.error(`[chaos] ${line}`),
    signal: stop.signal,
  });
  console.log(coexistChaosSummary(result));
  if (result.workDir) console.error(`[chaos] work folder kept: ${result.workDir}`);
  return coexistChaosPassed(result) ? 0 : 1;
}

/**
 * Chaos at CI size, through the same runner as `npm run chaos`: one migration by the production worker process
 * while the worker is SIGKILLed (and restarted) and the Temporal dev server is killed and started again on its
 * database file, under ZIM faults (5xx, resets, commit-then-drop, "too frequent" bursts, latency spikes). The
 * emulator must end exactly as staged, counted message by message. The run prints its summary line; a failing
 * run replays with CHAOS_SEED=<seed> (CHAOS_LOG=1 shows its progress).
 *
 * Then through a catch-up round (`--rounds 2`): the migration and one round on an evolved export, a worker killed
 * during each, and ZIM checked against the last export (messages, users, relations, groups, read states).
 *
 * Then across machines (`npm run chaos -- --staging postgres --machines N`): the staging and the call schedule in a
 * local PostgreSQL, the workers as machines lost whole (processes SIGKILLed, folder deleted, a fresh machine started
 * with the connection settings alone), and PostgreSQL itself SIGKILLed and started again.
 *
 * The three runs go side by side: each has its own work folder, Temporal server, emulator, workers and PostgreSQL,
 * and strikes its disruptions at counts of its own emulator's requests, not at times, so a slower run meets the same
 * disruptions; most of a run is waiting (on its worker, its server, retries), which the others fill.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chaosFaults, runChaos, type ChaosOptions } from '../../src/chaos/run-chaos';
import { chaosPassed, chaosSummary } from '../../src/chaos/summary';
import { FAST_RATE } from '../../src/testing/migration-rig';

const KILLS = 2;
const SERVER_RESTARTS = 1;
/**
 * The workers' ZIM request timeout: a fifth of the default, so a worker killed mid-import holds its conversation
 * for a 9-s call lease instead of 45 s, below the workflow task timeout (10 s) that a kill costs anyway. The emulator
 * answers in milliseconds, its latency spikes take 1.5 s; a call that runs out of time is one more transient fault.
 */
const ZIM_TIMEOUT_MS = 3_000;

/** A CI-size run (12 users, ZIM faults, seed from the clock or CHAOS_SEED): its result, summary line and what to show. */
async function ciChaos(
  options: Pick<ChaosOptions, 'workerKills' | 'serverRestarts' | 'timeoutMs'> & Partial<ChaosOptions>
) {
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
  const result = await runChaos({
    users: 12,
    seed,
    faults: chaosFaults(seed),
    rate: FAST_RATE,
    zimTimeoutMs: ZIM_TIMEOUT_MS,
    log: process.env.CHAOS_LOG ? (line) => console.error(line) : undefined,
    ...options,
  });
  const summary = chaosSummary(result);
  console.log(summary);
  const why = `${summary}\n${result.exactness?.examples.join('\n') ?? ''}\nwork folder: ${result.workDir ?? '-'}`;
  return { result, summary, why };
}

describe('chaos at CI size', { concurrency: 3 }, () => {
  describe('chaos: worker kills, a Temporal server restart and ZIM faults during one migration', () => {
    it(`ends exact after ${KILLS} worker kills and ${SERVER_RESTARTS} server restart`, async () => {
      const { result, why } = await ciChaos({
        workerKills: KILLS,
        serverRestarts: SERVER_RESTARTS,
        timeoutMs: 8 * 60_000,
      });
      assert.equal(result.workerKills, KILLS, `the migration ended before every kill: ${why}`);
      assert.equal(result.serverRestarts, SERVER_RESTARTS, `the migration ended before the server restart: ${why}`);
      assert.ok(result.faults.commitThenDrop > 0 && result.faults.reset > 0, `too few faults: ${why}`);
      assert.ok(result.exactness && result.exactness.messages > 200, `too small a dataset: ${why}`);
      assert.ok(result.longestStall, `no conversation was seen moving again after a disruption: ${why}`);
      assert.ok(chaosPassed(result), why);
    });
  });

  describe('chaos through catch-up rounds: the same disruptions during each round', () => {
    it('ends with ZIM exactly the last export after 2 rounds, a worker killed in each', async () => {
      const { result, summary, why } = await ciChaos({
        rounds: 2,
        workerKills: 1,
        serverRestarts: 0,
        // Side by side with the other two it takes about twice its 60 s alone: the same margin as before.
        timeoutMs: 6 * 60_000,
      });
      // Kills count over the whole run: one during the migration, one during the round.
      assert.match(summary, /^chaos: rounds 2, 2 kills, /);
      assert.match(summary, / 0 lost, 0 duplicated, /);
      assert.equal(result.rounds, 2, why);
      assert.equal(result.workerKills, 2, `a round ended before its kill: ${why}`);
      assert.deepEqual(result.finalState, [], why);
      assert.ok(chaosPassed(result), why);
    });
  });

  describe('chaos across machines: staging and call schedule in PostgreSQL', () => {
    const MACHINE_KILLS = 2;
    it(`ends exact after ${MACHINE_KILLS} machines lost and a PostgreSQL restart, under ZIM faults`, async () => {
      const { result, summary, why } = await ciChaos({
        staging: 'postgres',
        machines: 2,
        workerKills: MACHINE_KILLS,
        serverRestarts: 0,
        postgresRestarts: 1,
        timeoutMs: 6 * 60_000,
      });
      assert.match(
        summary,
        /^chaos: 2 machines on PostgreSQL, 2 machine kills, 0 server restarts, 1 PostgreSQL restart/
      );
      assert.equal(result.workerKills, MACHINE_KILLS, `the migration ended before every machine was lost: ${why}`);
      assert.equal(result.postgresRestarts, 1, `the migration ended before PostgreSQL was restarted: ${why}`);
      assert.ok(result.exactness && result.exactness.messages > 200, `too small a dataset: ${why}`);
      assert.equal(result.exactness.lost, 0, why);
      assert.equal(result.exactness.duplicated, 0, why);
      assert.ok(chaosPassed(result), why);
    });
  });
});

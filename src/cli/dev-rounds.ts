/**
 * `zim-migrate dev --rounds N`: after the rehearsal's migration, N-1 catch-up rounds on evolving data (issue #13).
 * Each round evolves the previous export (`gen --evolve`, seeded changes of every kind), stages the round in the
 * rehearsal's staging file, runs it on the rehearsal's workers and follows it; the round's verify reads the whole
 * final state back from the emulator, so the rehearsal ends with an exact check. A round already done (a resumed
 * rehearsal) is skipped; an unfinished one resumes.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { stageRound } from '../catch-up/stage-round';
import { roundMigrationId } from '../shared/rounds';
import { progressQuery, workflowIds, type MigrationProgress } from '../shared/workflow-api';
import { openStaging } from '../staging';
import { evolveExport } from '../synthetic/evolve';
import { ProgressPrinter, watchOutputFor } from './progress-watch';
import { renderRoundPlan } from './commands/catch-up';

export interface RehearsalRoundsOptions {
  client: Client;
  taskQueue: string;
  migrationId: string;
  staging: string;
  /** The rehearsal's folder: later exports go to <dir>/export-round-<n>. */
  dir: string;
  rounds: number;
  seed: number;
  /** The staging's connection settings when it is in PostgreSQL (the rehearsal's own server's password). */
  env: NodeJS.ProcessEnv;
  /** Fails when a worker stopped (resolves with its error), checked while a round runs. */
  workerFailed: Promise<unknown>;
  say(line: string): void;
}

/** Runs the catch-up rounds; returns the number of records that failed in them (verify findings included). */
export async function rehearseRounds(o: RehearsalRoundsOptions): Promise<number> {
  let failed = 0;
  for (let n = 1; n < o.rounds; n++) {
    const store = await openStaging(o.staging, { readonly: true }, o.env);
    const [rounds, meta] = await Promise.all([store.rounds(), store.meta()]).finally(() => store.close());
    const existing = rounds.find((r) => r.round === n);
    if (existing?.state === 'done') {
      o.say(`round ${n} already done`);
      continue;
    }
    const previous = n === 1 ? meta.apps[0]!.dir : path.join(o.dir, `export-round-${n - 1}`);
    const exportDir = path.join(o.dir, `export-round-${n}`);
    if (!existing && !existsSync(exportDir)) {
      const evolved = await evolveExport({
        from: previous,
        out: exportDir,
        seed: o.seed + n,
        incremental: false,
        change: 0.1,
        late: 1,
      });
      o.say(
        `round ${n}: later export ${exportDir} (gen --evolve, watermark ${new Date(evolved.untilMs).toISOString()})`
      );
    }
    const staged = await stageRound({
      staging: o.staging,
      exportDir,
      asOfMs: Date.now(),
      rejectsFile: path.join(o.dir, `rejects-round-${n}.ndjson`),
      env: o.env,
    });
    if (staged.kind === 'invalid') throw new Error(`round ${n}: the evolved export has errors (${exportDir})`);
    if (staged.kind === 'staged') console.log(`\n${renderRoundPlan(staged.plan)}\n`);
    const id = roundMigrationId(o.migrationId, n);
    const handle = o.client.workflow.getHandle(workflowIds.migration(id));
    try {
      await o.client.workflow.start('roundWorkflow', {
        taskQueue: o.taskQueue,
        workflowId: workflowIds.migration(id),
        args: [{ migrationId: o.migrationId, stagingPath: o.staging, round: staged.round.round }],
        staticSummary: `Catch-up round ${n} of ${o.migrationId}`,
      });
      o.say(`round ${n} started (workflow ${workflowIds.migration(id)})`);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      o.say(`round ${n} already running: following it`);
    }
    const output = watchOutputFor({ json: false, isTTY: process.stdout.isTTY === true });
    const printer = new ProgressPrinter({ output, everyMs: 10_000, write: (text) => process.stdout.write(text) });
    for (;;) {
      if ((await handle.describe()).status.name !== 'RUNNING') break;
      const progress = await handle.query(progressQuery).catch(() => undefined);
      if (progress) printer.show(progress);
      const stopped = await Promise.race([o.workerFailed, new Promise((r) => setTimeout(r, 2_000))]);
      if (stopped) throw new Error(`a worker stopped: ${(stopped as Error).message}`, { cause: stopped });
    }
    const result = (await handle.result()) as { status: string; stages: MigrationProgress['stages'] };
    printer.end({ migrationId: id, status: result.status, stages: result.stages });
    if (result.status !== 'completed') throw new Error(`round ${n} ended ${result.status}`);
    failed += result.stages.reduce((sum, s) => sum + s.failed, 0);
  }
  return failed;
}

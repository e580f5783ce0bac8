/**
 * `zim-migrate report`: what a migration did, from its ledger (in the staging file) and, when Temporal is reachable,
 * its workflow (durations, calls, budgets). Every failure is listed with its ZIM code and the source id it concerns.
 */
import { WorkflowNotFoundError, isGrpcServiceError, type Client } from '@temporalio/client';
import { NamespaceNotFoundError } from '@temporalio/common';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { defaultBudget } from '../../zim-client/limits';
import { STAGE_ACTION, STAGES, type Stage } from '../../shared/stages';
import { UsageError } from '../../shared/usage-error';
import { progressQuery, workflowIds, type MigrationProgress, type StageProgress } from '../../shared/workflow-api';
import { plannedRecords } from '../../shared/migration-plan';
import { redactIfUrl } from '../../postgres/database-settings';
import { openStaging } from '../../staging';
import type { LedgerStatus } from '../../staging/migration-store';
import {
  connectClient,
  resolveTemporalSettings,
  TemporalUnreachableError,
  type TemporalSettings,
} from '../../temporal-connection/connect';
import { formatDuration } from '../../shared/format-duration';
import { describeError } from '../describe-error';
import { settingLayers } from '../setting-layers';
import { renderRoundReports, roundReports } from '../../catch-up/round-report';
import { DEACTIVATED_NOTE, deactivatedUserOutcomes, renderDeactivated } from '../deactivated-report';
import type { DivergenceRecord } from '../../coexist/coexist-store';
import { isPostgresStore, openCoexistStore, storeName } from '../../coexist/open-coexist-store';
import { renderDivergences } from './coexist';

interface StageReport {
  stage: Stage;
  planned: number;
  done: number;
  failed: number;
  skipped: number;
  pending: number;
  /** Running time without pauses, and the time paused. */
  seconds?: number;
  pausedSeconds?: number;
  calls?: number;
  callsPerSecond?: number;
  budget?: number;
}

interface FailureReport {
  stage: string;
  key: string;
  zimCode?: number;
  zimMessage?: string;
}

const optionsSchema = z.object({
  json: z.boolean().optional(),
  name: z.string().optional(),
  coexistStore: z.string().min(1).optional(),
  failures: z.coerce.number().int().min(0).default(50),
});

/** What Temporal adds to the ledger: each stage's durations, calls and budget, or why it cannot. */
type LiveView = { stages: StageProgress[]; note?: undefined } | { stages?: undefined; note: string };

const firstLine = (err: unknown) => describeError(err).split('\n')[0]!.slice(0, 300);

/** gRPC status codes meaning the server did not answer (as opposed to answering no): UNAVAILABLE, DEADLINE_EXCEEDED. */
const UNANSWERED_CODES: readonly number[] = [14, 4];

function unanswered(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 3; depth++) {
    if (isGrpcServiceError(e) && UNANSWERED_CODES.includes(e.code)) return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}

/** The migration's own view from its workflow, or a note saying why there is none. */
async function workflowView(name: string, settings: TemporalSettings): Promise<LiveView> {
  const { address } = settings.connectionOptions;
  const { namespace } = settings;
  const unreachable = (err: unknown): LiveView => ({
    note:
      `Temporal not reachable at ${address} (${firstLine(err)}): no durations or rates. Check it with ` +
      `"temporal operator cluster health --address ${address}"; "zim-migrate config" shows the settings used.`,
  });
  let client: Client;
  try {
    client = await connectClient(settings);
  } catch (err) {
    return unreachable(err instanceof TemporalUnreachableError ? err.cause : err);
  }
  const workflowId = workflowIds.migration(name);
  try {
    const handle = client.workflow.getHandle(workflowId);
    const { status } = await handle.describe();
    if (status.name === 'RUNNING') {
      const progress = await handle.query(progressQuery).catch((err: unknown) => {
        throw new Error(
          `migration ${name} is running but no worker answered its progress query (${firstLine(err)}): no ` +
            `durations or rates; check a worker polls task queue ${settings.taskQueue}`
        );
      });
      return { stages: progress.stages };
    }
    if (status.name === 'COMPLETED') {
      const result = (await handle.result()) as { stages: MigrationProgress['stages'] };
      return { stages: result.stages };
    }
    return {
      note: `Migration ${name} (workflow ${workflowId}) ended ${status.name.toLowerCase()}: no durations or rates.`,
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      return {
        note:
          `There is no migration named ${name} in namespace ${namespace} at ${address}: no durations or rates. ` +
          `Pass the name it was started with (--name), or check TEMPORAL_NAMESPACE.`,
      };
    if (err instanceof NamespaceNotFoundError)
      return { note: `There is no namespace ${namespace} at ${address}: check TEMPORAL_NAMESPACE.` };
    if (unanswered(err)) return unreachable(err);
    return { note: `Temporal at ${address} answered with an error: ${firstLine(err)}.` };
  } finally {
    await client.connection.close();
  }
}

/** What coexistence's audits recorded in its store (read only; Temporal need not be reachable). */
async function coexistDivergences(location: string): Promise<{ store: string; divergences: DivergenceRecord[] }> {
  if (!isPostgresStore(location) && !existsSync(location))
    throw new UsageError(
      `No coexistence store at ${location}: pass --coexist-store with the store the receivers use (their --store ` +
        'or ZIM_MIGRATE_COEXIST_STORE: a file, or a postgres:// URL)'
    );
  const store = await openCoexistStore(location);
  try {
    return { store: storeName(location), divergences: await store.divergences() };
  } finally {
    await store.close();
  }
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description("A migration's report: per stage planned/done/failed/skipped, durations, rate, and every failure")
    .argument('<staging>', 'the staging file the migration ran from (its ledger is inside)')
    .option(
      '--name <name>',
      'the migration, to add durations and rates from Temporal (default: the one recorded in the staging file)'
    )
    .option('--failures <n>', 'list at most this many failures (all are in --json)', '50')
    .option(
      '--coexist-store <file|url>',
      "also list what coexistence's audits found and how each was repaired (default: ZIM_MIGRATE_COEXIST_STORE when set)"
    )
    .option('--json', 'print the whole report as JSON')
    .addHelpText(
      'after',
      `
A failure is a record ZIM refused for good (its code and message are ZIM's); "pending" is a call that was in flight
when the report was made. Verify findings are failures of stage "verify", keyed by the conversation or group.
Deactivated users are listed one by one with their registration's outcome: ZIM has no API to deactivate a user, so
they are registered but own nothing (no copies, relations or memberships but as a group owner); your app must not
issue them ZIM login tokens. Catch-up rounds (zim-migrate catch-up) are listed after the stages: each round's
export, state, duration, its changes other than messages (planned, done, failed, skipped, pending), its new
messages and its conflicts; a round's failures are listed with stage "round", keyed <round>/<op>/<record>.
A stage's planned is the migration's plan plus what each round added to it (new messages, records and verify
checks it marked for the first time), so once nothing runs planned = done + failed + skipped + pending.
With a coexistence store (--coexist-store, or ZIM_MIGRATE_COEXIST_STORE), every divergence its reconciliation
audits found is listed last: the conversation, the side and message id, and when and how it was repaired (the same
list as "zim-migrate coexist divergences").

Counts come from the ledger in the staging file. Durations, rates and budgets come from the migration's workflow:
a migration records its name in the staging file when a worker starts it (the last one started wins), so the
report finds it without --name, also for "zim-migrate dev" (migration "rehearsal"). When they are missing, the
report says why: no migration recorded (pass --name), no migration of that name in the namespace, or Temporal
not reachable at its address.

Examples:
  $ zim-migrate report ./acme.sqlite
  $ zim-migrate report .rehearsal/staging.sqlite                the rehearsal of "zim-migrate dev"
  $ zim-migrate report ./acme.sqlite --name acme-2026-11        a migration started before another on the file
  $ zim-migrate report ./acme.sqlite --json | jq '.failures[] | select(.zimCode == 660400001)'
  $ zim-migrate report ./acme.sqlite --json | jq '[.failures[].zimCode] | group_by(.) | map({code: .[0], n: length})'

Exit codes: 0 report printed (failures or not: read them), 1 failure, 2 bad usage (an unreadable staging file).`
    )
    .action(async (staging: string, raw: Record<string, unknown>, command: Command) => {
      const parsed = optionsSchema.safeParse(raw);
      if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join('; '));
      const opts = parsed.data;
      const store = await openStaging(staging, { readonly: true }).catch((err: Error) => {
        throw new UsageError(`Cannot read ${redactIfUrl(staging)}: ${err.message}`);
      });
      try {
        const meta = await store.meta();
        // The migration's plan plus what each catch-up round added to it: the ledger holds the work of both.
        const planned = plannedRecords(meta.migrationCounts ?? meta.counts);
        for (const round of await store.rounds())
          for (const stage of STAGES) planned[stage] += round.planned?.[stage] ?? 0;
        const ledger = await store.ledgerCounts();
        const name = opts.name ?? (await store.lastMigration());
        const live: LiveView =
          name === null
            ? {
                note:
                  `No migration recorded in ${redactIfUrl(staging)} (a migration records its name there when a worker starts ` +
                  'it): pass --name <migration> for durations and rates from Temporal.',
              }
            : await workflowView(name, resolveTemporalSettings(settingLayers(command)));
        const stages: StageReport[] = STAGES.map((stage) => {
          const count = (status: LedgerStatus) => ledger[stage]?.[status] ?? 0;
          const w = live.stages?.find((s) => s.stage === stage);
          // Running time without pauses: what the stage took, and what its rate is taken over.
          const seconds =
            w?.activeSeconds ?? (w?.startedAt && w.finishedAt ? (w.finishedAt - w.startedAt) / 1000 : undefined);
          // Results of migrations started before stages carried their budget: the stage's main Action's default.
          const budget = w && (w.budget ?? defaultBudget(STAGE_ACTION[stage]).rate);
          return {
            stage,
            planned: planned[stage],
            done: count('done'),
            failed: count('failed'),
            skipped: count('skipped'),
            pending: count('pending'),
            ...(seconds !== undefined && { seconds }),
            ...(w && { calls: w.calls, budget, ...(w.pausedMs && { pausedSeconds: w.pausedMs / 1000 }) }),
            ...(seconds && w && { callsPerSecond: w.calls / seconds }),
          };
        });
        const failures: FailureReport[] = [];
        for (const stage of [...stages.map((s) => s.stage), 'round' as const]) {
          for (let after: string | null = null; ;) {
            const rows = await store.readLedger(stage, after, 1000);
            for (const r of rows)
              if (r.status === 'failed')
                failures.push({
                  stage,
                  key: r.key,
                  ...(r.zimCode != null && { zimCode: r.zimCode }),
                  ...(r.zimMessage && { zimMessage: r.zimMessage }),
                });
            if (rows.length < 1000) break;
            after = rows[rows.length - 1]!.key;
          }
        }
        const deactivated = await deactivatedUserOutcomes(store);
        const rounds = await roundReports(store);
        const coexistStore = opts.coexistStore ?? process.env.ZIM_MIGRATE_COEXIST_STORE;
        const coexistence = coexistStore === undefined ? undefined : await coexistDivergences(coexistStore);
        if (opts.json) {
          const note = live.note;
          const deactivatedUsers = { note: DEACTIVATED_NOTE, users: deactivated };
          console.log(
            JSON.stringify(
              {
                staging,
                migration: name,
                ...(note && { note }),
                stages,
                rounds,
                failures,
                deactivatedUsers,
                ...(coexistence && { coexistence }),
              },
              null,
              2
            )
          );
          return;
        }
        console.log(
          name === null
            ? `Migration report: ${redactIfUrl(staging)}`
            : `Migration report: ${name} (${redactIfUrl(staging)})`
        );
        if (live.note) console.log(live.note);
        console.log('stage            planned      done    failed   skipped   pending   duration   calls/s (budget)');
        for (const s of stages) {
          const rate = s.callsPerSecond !== undefined ? `${s.callsPerSecond.toFixed(1)} (${s.budget ?? '?'})` : '';
          console.log(
            `${s.stage.padEnd(15)}${[s.planned, s.done, s.failed, s.skipped, s.pending].map((v) => v.toLocaleString('en-US').padStart(10)).join('')}` +
              `${(s.seconds !== undefined ? formatDuration(s.seconds) : '').padStart(11)}   ${rate}`
          );
        }
        for (const line of renderRoundReports(rounds)) console.log(line);
        if (failures.length === 0) console.log('\nNo failures.');
        else {
          console.log(
            `\nFailures: ${failures.length}${failures.length > opts.failures ? ` (first ${opts.failures}; all with --json)` : ''}`
          );
          for (const f of failures.slice(0, opts.failures))
            console.log(`  ${f.stage.padEnd(15)} ${f.key}  ${f.zimCode ?? ''} ${f.zimMessage ?? ''}`);
        }
        for (const line of renderDeactivated(deactivated, opts.failures)) console.log(line);
        if (coexistence) {
          const shown = coexistence.divergences.slice(0, opts.failures);
          const more = coexistence.divergences.length - shown.length;
          console.log(`\nCoexistence: ${renderDivergences(coexistence.store, shown).trimEnd()}`);
          if (more > 0) console.log(`  ... and ${more} more (all with --json)`);
        }
      } finally {
        await store.close();
      }
    });
}

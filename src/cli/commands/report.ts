/**
 * `zim-migrate report`: what a migration did, from its ledger (in the staging file) and, when Temporal is reachable,
 * its workflow (durations, calls, budgets). Every failure is listed with its ZIM code and the source id it concerns.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { STAGES, type Stage } from '../../shared/stages';
import { UsageError } from '../../shared/usage-error';
import { progressQuery, workflowIds, type MigrationProgress, type StageProgress } from '../../shared/workflow-api';
import { openStagingStore } from '../../staging';
import { connectClient, resolveTemporalSettings, type TemporalSettings } from '../../temporal-connection/connect';
import { formatDuration } from '../../shared/format-duration';
import { settingLayers } from '../setting-layers';

interface StageReport {
  stage: Stage;
  planned: number;
  done: number;
  failed: number;
  skipped: number;
  pending: number;
  seconds?: number;
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
  failures: z.coerce.number().int().min(0).default(50),
});

/** Planned records per stage, from the staging counts (the same units the ledger counts in). */
function plannedOf(counts: Record<string, number>): Record<Stage, number> {
  const n = (k: string) => counts[k] ?? 0;
  return {
    accounts: n('users'),
    profiles: n('users'),
    friends: n('friends'),
    blocks: n('blocks'),
    'peer-messages': n('peerCopies'),
    groups: n('groupMembers') + n('groupAdmins') + n('groupMemberNicknames'),
    'group-messages': n('groupMessages'),
    // Each conversation copy, group history and member list, user profile, and friend list or blocklist to hold some.
    verify: n('conversations') + 2 * n('groups') + n('users') + n('friendListUsers') + n('blockListUsers'),
  };
}

/** The migration's own view, when its workflow can be reached: durations, calls and budgets per stage. */
async function workflowView(name: string, settings: TemporalSettings): Promise<StageProgress[] | undefined> {
  try {
    const client = await connectClient(settings);
    try {
      const handle = client.workflow.getHandle(workflowIds.migration(name));
      const { status } = await handle.describe();
      if (status.name === 'RUNNING') return (await handle.query(progressQuery)).stages;
      if (status.name === 'COMPLETED')
        return ((await handle.result()) as { stages: MigrationProgress['stages'] }).stages;
      return undefined;
    } finally {
      await client.connection.close();
    }
  } catch {
    return undefined;
  }
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description("A migration's report: per stage planned/done/failed/skipped, durations, rate, and every failure")
    .argument('<staging>', 'the staging file the migration ran from (its ledger is inside)')
    .option('--name <name>', 'migration name, to add durations and rates from Temporal (default: the file name)')
    .option('--failures <n>', 'list at most this many failures (all are in --json)', '50')
    .option('--json', 'print the whole report as JSON')
    .addHelpText(
      'after',
      `
A failure is a record ZIM refused for good (its code and message are ZIM's); "pending" is a call that was in flight
when the report was made. Verify findings are failures of stage "verify", keyed by the conversation or group.

Examples:
  $ zim-migrate report ./acme.sqlite
  $ zim-migrate report ./acme.sqlite --json | jq '.failures[] | select(.zimCode == 660400001)'
  $ zim-migrate report ./acme.sqlite --json | jq '[.failures[].zimCode] | group_by(.) | map({code: .[0], n: length})'

Exit codes: 0 report printed (failures or not: read them), 1 failure, 2 bad usage (an unreadable staging file).`
    )
    .action(async (staging: string, raw: Record<string, unknown>, command: Command) => {
      const parsed = optionsSchema.safeParse(raw);
      if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join('; '));
      const opts = parsed.data;
      const store = await openStagingStore(staging, { readonly: true }).catch((err: Error) => {
        throw new UsageError(`Cannot read ${staging}: ${err.message}`);
      });
      try {
        const meta = await store.meta();
        const planned = plannedOf(meta.counts as unknown as Record<string, number>);
        const summary = await store.ledgerSummary();
        const name = opts.name ?? staging.replace(/^.*\//, '').replace(/\.[^.]*$/, '');
        const live = await workflowView(name, resolveTemporalSettings(settingLayers(command)));
        const stages: StageReport[] = STAGES.map((stage) => {
          const count = (status: string) =>
            summary
              .filter((s) => s.stage === stage && (s.status as string) === status)
              .reduce((a, s) => a + s.count, 0);
          const w = live?.find((s) => s.stage === stage);
          const seconds = w?.startedAt && w.finishedAt ? (w.finishedAt - w.startedAt) / 1000 : undefined;
          return {
            stage,
            planned: planned[stage],
            done: count('done'),
            failed: count('failed'),
            skipped: count('skipped'),
            pending: count('pending'),
            ...(seconds !== undefined && { seconds }),
            ...(w && { calls: w.calls, budget: w.budget }),
            ...(seconds && w && { callsPerSecond: w.calls / seconds }),
          };
        });
        const failures: FailureReport[] = [];
        for (const { stage } of stages) {
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
        if (opts.json) {
          console.log(JSON.stringify({ staging, migration: name, stages, failures }, null, 2));
          return;
        }
        console.log(`Migration report: ${name} (${staging})${live ? '' : ' — Temporal not reachable: no durations'}`);
        console.log('stage            planned      done    failed   skipped   pending   duration   calls/s (budget)');
        for (const s of stages) {
          const rate = s.callsPerSecond !== undefined ? `${s.callsPerSecond.toFixed(1)} (${s.budget ?? '?'})` : '';
          console.log(
            `${s.stage.padEnd(15)}${[s.planned, s.done, s.failed, s.skipped, s.pending].map((v) => v.toLocaleString('en-US').padStart(10)).join('')}` +
              `${(s.seconds !== undefined ? formatDuration(s.seconds) : '').padStart(11)}   ${rate}`
          );
        }
        if (failures.length === 0) console.log('\nNo failures.');
        else {
          console.log(
            `\nFailures: ${failures.length}${failures.length > opts.failures ? ` (first ${opts.failures}; all with --json)` : ''}`
          );
          for (const f of failures.slice(0, opts.failures))
            console.log(`  ${f.stage.padEnd(15)} ${f.key}  ${f.zimCode ?? ''} ${f.zimMessage ?? ''}`);
        }
      } finally {
        await store.close();
      }
    });
}

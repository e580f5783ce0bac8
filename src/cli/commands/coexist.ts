/** `zim-migrate coexist start|status|stop`: operate a coexistence sync (docs/coexistence.md §7). */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import { existsSync } from 'node:fs';
import type { CoexistStore, DivergenceRecord, ParkedRecord } from '../../coexist/coexist-store';
import { coexistStoreLocation, isPostgresStore, openCoexistStore, storeName } from '../../coexist/open-coexist-store';
import { handoffSetting, HandoffSettingError, type HandoffSetting } from '../../coexist/handoff-setting';
import { redactIfUrl } from '../../postgres/database-settings';
import { DEFAULT_COEXIST_TASK_QUEUE } from '../../coexist/receiver/start';
import { temporalHandoff } from '../../coexist/receiver/handoff';
import { retryParked } from '../../coexist/retry-parked';
import {
  startSync,
  stopSync,
  syncState,
  syncStatus,
  syncWorkflowId,
  type DirectionFigures,
  type SyncStatus,
} from '../../coexist/sync-control';
import { UsageError } from '../../shared/usage-error';
import { DEFAULT_AUDIT_EVERY_MINUTES } from '../../../workflows/coexist-sync';
import { temporalSettings } from '../../temporal-connection/connect';
import { withClient } from './migration-control';
import { withSearchAttributeHint } from '../search-attribute-hint';

export const syncName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64, first a letter or digit');

const parseName = (raw: unknown) => {
  const r = syncName.safeParse(raw);
  if (!r.success) throw new UsageError(`--name: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
};

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
const ms = (v: number | null) => (v === null ? '-' : v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(1)} s`);
const way = (label: string, d: DirectionFigures) =>
  `  ${label}  ${d.mirrored} mirrored, ${d.eventsPerSecond}/s (last 60 s), lag p50 ${ms(d.lagMs.p50)}, ` +
  `p99 ${ms(d.lagMs.p99)}`;

export function renderSyncStatus(s: SyncStatus): string {
  return [
    `Sync ${s.name}: ${s.state}`,
    `  conversations  ${s.conversations.open} open, ${s.conversations.closed} closed runs`,
    way('legacy→ZIM', s.legacyToZim),
    way('ZIM→legacy', s.zimToLegacy),
    `  echoes suppressed ${s.echoesSuppressed}; sends settled ambiguously ${s.settledAmbiguously.byEcho} by echo, ` +
      `${s.settledAmbiguously.byTail} by tail`,
    s.echoes.byReceivers === null
      ? `  echoes settled by the receivers: not counted (${s.echoes.storeError ?? 'no store'}); ` +
        `the ${s.echoes.byWorkflows} above are the conversation workflows' only`
      : `  echoes settled by the receivers ${s.echoes.byReceivers} (no Temporal call), ` +
        `by the conversation workflows ${s.echoes.byWorkflows}`,
    `  duplicates dropped ${s.duplicatesDropped}, reordered ${s.reordered}, refused ${s.refused}, queued ${s.queued}`,
    `  parked ${s.parked}` +
      (s.parked ? ' (given up after their retries: "zim-migrate coexist parked" lists each with what to do)' : ''),
    ...(s.handoff
      ? [
          `  import handoff: ${s.handoff.held} legacy messages held, ${s.handoff.dropped} dropped (in the history), ` +
            `${s.handoff.released} released, ${s.handoff.parked} parked; ` +
            `${s.handoff.waiting} conversation${s.handoff.waiting === 1 ? '' : 's'} waiting for their import`,
        ]
      : []),
    `  divergences ${s.divergences.found} found, ${s.divergences.repaired} repaired` +
      (s.divergences.gaps ? `, ${s.divergences.gaps} sequence gaps` : '') +
      ` (${s.divergences.runs} audit${s.divergences.runs === 1 ? '' : 's'}` +
      (s.divergences.failed ? `, ${s.divergences.failed} failed` : '') +
      (s.divergences.discovered ? `, ${plural(s.divergences.discovered, 'conversation')} found by listing users` : '') +
      (s.divergences.listingsCut
        ? `, ${plural(s.divergences.listingsCut, 'user listing')} cut short (older conversations there not audited)`
        : '') +
      (s.divergences.auditedUntil !== undefined
        ? `, audited up to ${new Date(s.divergences.auditedUntil).toISOString()}`
        : '') +
      ')' +
      (s.divergences.found ? ': "zim-migrate coexist divergences" lists each' : ''),
    '',
  ].join('\n');
}

export function renderDivergences(store: string, list: DivergenceRecord[]): string {
  if (list.length === 0) return `No divergences in ${store}: every audit found both sides matching.\n`;
  const lines = [`${list.length} divergence${list.length === 1 ? '' : 's'} in ${store}, oldest finding first:`];
  for (const d of list) {
    const otherSide = d.origin === 'zim' ? 'the legacy side' : 'ZIM';
    const what =
      d.kind === 'gap'
        ? `legacy sequence numbers ${d.msgId.slice('gap:'.length)} missing from its read API`
        : d.kind === 'group'
          ? `group change ${d.msgId} on ${d.origin === 'zim' ? 'ZIM' : 'the legacy side'}, not on ${otherSide}`
          : `${d.origin} message ${d.msgId} (sent ${new Date(d.at).toISOString()}) missing on ${otherSide}`;
    lines.push(
      `  ${new Date(d.foundAt).toISOString()}  ${d.conv}  ${what}`,
      `    repaired: ${d.repairedAt === null ? 'no' : `${new Date(d.repairedAt).toISOString()}, ${d.repair ?? ''}`}`
    );
  }
  return `${lines.join('\n')}\n`;
}

export function renderParked(store: string, parked: ParkedRecord[]): string {
  if (parked.length === 0) return `No parked mirrors in ${store}.\n`;
  const lines = [`${parked.length} parked mirror${parked.length === 1 ? '' : 's'} in ${store}, oldest first:`];
  for (const p of parked)
    lines.push(
      `  ${new Date(p.parkedAt).toISOString()}  ${p.conv}  from ${p.origin}: ${p.subject}`,
      `    why:  ${p.reason}`,
      `    do:   ${p.action}`
    );
  return `${lines.join('\n')}\n`;
}

const notFound = (name: string) =>
  new Error(
    `No sync "${name}" (workflow ${syncWorkflowId(name)}). Start one with "zim-migrate coexist start --name ${name}".`
  );

export function registerCoexistCommand(program: Command): void {
  const coexist = program
    .command('coexist')
    .description(
      'Operate a two-way coexistence sync between the legacy system and ZIM: start, status, parked, divergences, stop'
    )
    .addHelpText(
      'after',
      `
A sync is a workflow (coexist-sync:<name>) the receivers' conversation workflows belong to: run
"zim-migrate receiver --sync <name> --with-worker" (or receivers and workers apart), then "coexist start".
In the Temporal UI: ZimCoexistSync="<name>" lists the sync and its conversations; ZimCoexistStatus its state.

Examples:
  $ zim-migrate coexist start --name acme
  $ zim-migrate coexist start --name acme --handoff staging.db   before the export: hold legacy messages until imported
  $ zim-migrate coexist status --name acme          conversations, events/s and lag each way, echoes, parked
  $ zim-migrate coexist status --name acme --json
  $ zim-migrate coexist stop --name acme            drain, audit once more, close every conversation, end it
  $ zim-migrate coexist parked --store coexist.sqlite   mirrors given up after their retries, with what to do
  $ zim-migrate coexist divergences --store coexist.sqlite   what the audits found missing, and how repaired

Exit codes: 0 done, 1 Temporal unreachable, no such sync (status, stop) or one already running (start),
2 bad usage (a --name with other characters than letters, digits, ".", "_", "-").`
    );
  const nameOption = ['--name <name>', 'the sync (one per legacy system; default "default")', 'default'] as const;

  coexist
    .command('start')
    .description('Start the sync: its workflow, found in the UI by ZimCoexistSync')
    .option(...nameOption)
    .option('--task-queue <name>', `the coexistence task queue (default ${DEFAULT_COEXIST_TASK_QUEUE})`)
    .option(
      '--handoff <staging>',
      "the migration's staging (file or postgres:// URL, as plan --out): hold each conversation's live legacy " +
        'messages until its history is imported there, then mirror only what the history lacks'
    )
    .option(
      '--audit-every-minutes <n>',
      'run the reconciliation audit every n minutes (0: never; coexist stop audits anyway)',
      String(DEFAULT_AUDIT_EVERY_MINUTES)
    )
    .option('--audit-from <time>', "audit no message older than this (ISO 8601; default the sync's start): see below")
    .option('--json', 'print {"name","workflowId"} (and "handoff")')
    .addHelpText(
      'after',
      `
Examples:
  $ zim-migrate coexist start --name acme --audit-every-minutes 5 --json
  $ zim-migrate coexist start --name acme --handoff staging.db
  $ zim-migrate coexist start --name acme --handoff 'postgres://zim@db/zim?schema=acme'

A worker on the coexistence task queue runs it ("zim-migrate receiver --with-worker"). With --handoff, start the
receivers and the sync BEFORE taking the export, then plan and import it as usual (docs/coexistence.md §10); the
staging need not exist yet. The location is stored in the sync's memo: a URL without its password (workers read
ZIM_MIGRATE_DATABASE_PASSWORD[_FILE]).

Every --audit-every-minutes the sync audits its conversations: it lists each side's messages since the last audit
(older than 2 minutes, so mirrors in flight are left alone) and hands any message the other side lacks (its
callback or routing event was lost) back to its conversation, which mirrors it once. "coexist divergences" lists
them. Messages the historical import wrote carry no mirror tag. With --handoff the audit leaves a conversation
alone until its history is imported, then audits only what is newer than that history; without it, if capture
started before the export, give --audit-from the export's time, or the audit takes an imported copy for a
message whose mirror is missing.
Exit codes: 0 started, 1 Temporal unreachable or a sync of that name is already running, 2 bad usage (a bad
name, a --handoff URL holding a password).`
    )
    .action(
      async (o: {
        name: string;
        taskQueue?: string;
        handoff?: string;
        auditEveryMinutes: string;
        auditFrom?: string;
        json?: boolean;
      }) => {
        const name = parseName(o.name);
        let handoff: HandoffSetting | undefined;
        try {
          handoff = o.handoff === undefined ? undefined : handoffSetting(o.handoff);
        } catch (err) {
          if (err instanceof HandoffSettingError) throw new UsageError(err.message);
          throw err;
        }
        const every = z.coerce.number().int().min(0).max(10_080).safeParse(o.auditEveryMinutes);
        if (!every.success) throw new UsageError('--audit-every-minutes: a whole number of minutes, 0 to 10080');
        const auditFrom = o.auditFrom === undefined ? undefined : Date.parse(o.auditFrom);
        if (auditFrom !== undefined && Number.isNaN(auditFrom))
          throw new UsageError('--audit-from: a time in ISO 8601, e.g. 2026-12-01T08:00:00Z');
        const settings = temporalSettings();
        await withClient(settings, async (client) => {
          try {
            const workflowId = await startSync(client, name, o.taskQueue ?? DEFAULT_COEXIST_TASK_QUEUE, {
              auditEveryMinutes: every.data,
              ...(auditFrom !== undefined ? { auditFrom } : {}),
              ...(handoff ? { handoff } : {}),
            });
            const shown = handoff && redactIfUrl(handoff.staging);
            console.log(
              o.json
                ? JSON.stringify({ name, workflowId, ...(shown ? { handoff: shown } : {}) })
                : `Sync ${name} started (workflow ${workflowId})` +
                    (shown ? `; live legacy messages are held until their history is imported from ${shown}` : '')
            );
          } catch (err) {
            if (err instanceof WorkflowExecutionAlreadyStartedError)
              throw new Error(`Sync ${name} is already running (workflow ${syncWorkflowId(name)})`, { cause: err });
            throw withSearchAttributeHint(err, settings.namespace);
          }
        });
      }
    );

  coexist
    .command('status')
    .description(
      'The sync: conversations open, events/s and lag p50/p99 each way, echoes, ambiguous sends, parked, divergences'
    )
    .option(...nameOption)
    .option(...storeOption)
    .option('--json', 'print the figures as JSON')
    .addHelpText(
      'after',
      `
Example:
  $ zim-migrate coexist status --name acme --json | jq .legacyToZim.lagMs

Figures are summed over the sync's conversation workflows (open ones by their stats query, so a worker must
run; closed ones by their result). Events per second count mirrors in the last 60 s; lags (from the event's time
on its side to the end of its mirror) are over each conversation's last 200 mirrors per direction. Divergences
are what the reconciliation audits found on one side only, and how many they handed back to be mirrored.
Echoes suppressed add the workflows' figure and the receivers' (echoes of a mirror already recorded, settled in
the store without a Temporal call; "echoes" in --json has both): read from the store, and when it cannot be
opened the output says so and shows the workflows' figure alone.
Exit codes: 0 shown, 1 no such sync or Temporal unreachable, 2 bad usage.`
    )
    .action(async (o: { name: string; store?: string; json?: boolean }) => {
      const name = parseName(o.name);
      const location = coexistStoreLocation(o.store);
      // Never fails the command: without the store, status says which figure is missing.
      const store = await openStoreToRead(location).catch(
        (err: unknown) => new Error(err instanceof Error ? err.message : `no store at ${storeName(location)}`)
      );
      try {
        await withClient(temporalSettings(), async (client) => {
          const s = await syncStatus(client, name, store);
          if (s.state === 'unknown') throw notFound(name);
          process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : renderSyncStatus(s));
        });
      } finally {
        if (!(store instanceof Error)) await store.close();
      }
    });

  coexist
    .command('stop')
    .description(
      'Drain the sync (receivers refuse new events with 410), audit both sides, close every conversation, end it'
    )
    .option(...nameOption)
    .option('--json', 'print {"name","closed","handled","audit":{"found","repaired","gaps"},"tookMs"}')
    .addHelpText(
      'after',
      `
Example:
  $ zim-migrate coexist stop --name acme

Receivers stop taking events within 2 s (they answer 410 Gone; the legacy contract says not to retry it).
Once the conversations have handled what they hold (at most 2 minutes), a final audit compares both sides up to
the drain and hands every message still on one side only back to its conversation. Each open conversation then
finishes the events it holds, in order, and closes; a worker must run.
Exit codes: 0 stopped (or already stopped), 1 no such sync or Temporal unreachable, 2 bad usage.`
    )
    .action(async (o: { name: string; json?: boolean }) => {
      const name = parseName(o.name);
      await withClient(temporalSettings(), async (client) => {
        const say = (line: string) => {
          if (!o.json) console.log(`Sync ${name}: ${line}`);
        };
        let r;
        try {
          r = await stopSync(client, name, say);
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw notFound(name);
          throw err;
        }
        if (o.json)
          console.log(
            JSON.stringify({ name, closed: r.closed, handled: r.handled, audit: r.audit ?? null, tookMs: r.tookMs })
          );
        else
          say(
            r.alreadyStopped
              ? `was already stopped (it had closed ${r.closed} conversations)`
              : `stopped in ${(r.tookMs / 1000).toFixed(1)} s: ${r.closed} conversation workflows closed after ` +
                  `handling ${r.handled} events; audit ${r.audit?.found ?? 0} found, ${r.audit?.repaired ?? 0} repaired`
          );
      });
    });

  coexist
    .command('parked')
    .description('List the mirrors given up after their retries, with why and what to do; hand them back to retry')
    .option(...storeOption)
    .option('--retry <eventKey...>', 'hand these parked mirrors back to their conversations (keys as listed)')
    .option('--retry-all', 'hand every parked mirror back to its conversation')
    .option(...nameOption)
    .option('--task-queue <name>', `with --retry: the coexistence task queue (default ${DEFAULT_COEXIST_TASK_QUEUE})`)
    .option('--json', 'print the list (or what the retry did) as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ zim-migrate coexist parked --store /var/lib/zim-migrate/coexist.sqlite --json | jq '.[].conv'
  $ zim-migrate coexist parked --store coexist.sqlite --name acme --retry legacy:m-17
  $ zim-migrate coexist parked --store coexist.sqlite --name acme --retry-all
  $ zim-migrate coexist parked --store postgres://zim@db.internal:5432/zim_migrate   (password: ZIM_MIGRATE_DATABASE_*)

A mirror is parked when it still fails after 30 attempts (about a quarter of an hour of retries); the
conversation goes on without it, and "coexist status" counts it. Each entry names the conversation, the message id
or group event on its side, the last error (never message text) and what to check. Listing reads the store only:
Temporal need not be reachable.

A retry (once the cause is fixed: the user exists, the group is back, the side answers) hands the event back to its
conversation under a new key and removes it from the list; if it fails again it is parked again. It never doubles
a message: the mirror ledger settles it, and a message an earlier attempt did land is found in the target's tail
and not sent again. Entries parked by a version older than the retry have no event kept: do what "do:" says.
Exit codes: 0 listed or retried, 1 Temporal unreachable, the sync draining or stopped, or a key not parked,
2 bad usage (no store at that path, or a bad store URL).`
    )
    .action(
      async (o: {
        store?: string;
        retry?: string[];
        retryAll?: boolean;
        name: string;
        taskQueue?: string;
        json?: boolean;
      }) => {
        const location = coexistStoreLocation(o.store);
        const file = storeName(location);
        if (o.retry && o.retryAll) throw new UsageError('--retry and --retry-all: give one');
        const name = parseName(o.name);
        const store = await openStoreToRead(location);
        try {
          if (!o.retry && !o.retryAll) {
            const parked = await store.parked();
            process.stdout.write(o.json ? `${JSON.stringify(parked)}\n` : renderParked(file, parked));
            return;
          }
          const which = o.retryAll ? ({ all: true } as const) : { keys: o.retry! };
          const settings = temporalSettings();
          const r = await withClient(settings, async (client) => {
            const state = await syncState(client, name);
            if (state === 'draining' || state === 'stopped')
              throw new Error(
                `Sync ${name} is ${state}: its conversations take no more events, so nothing was retried`
              );
            const taskQueue = o.taskQueue ?? DEFAULT_COEXIST_TASK_QUEUE;
            return retryParked(store, temporalHandoff(client, { taskQueue, syncName: name }), which).catch(
              (err: unknown) => {
                throw withSearchAttributeHint(err, settings.namespace);
              }
            );
          });
          const keys = (list: ParkedRecord[]) => list.map((p) => p.eventKey);
          if (o.json)
            console.log(
              JSON.stringify({ retried: keys(r.retried), withoutEvent: keys(r.withoutEvent), unknown: r.unknown })
            );
          else {
            for (const p of r.retried) console.log(`retried ${p.eventKey} (${p.conv}, from ${p.origin}: ${p.subject})`);
            for (const p of r.withoutEvent)
              console.log(`not retried ${p.eventKey}: parked before retries kept the event; do: ${p.action}`);
            console.log(`${r.retried.length} handed back to their conversations; "coexist status" shows them settle`);
          }
          if (r.unknown.length > 0)
            throw new Error(`Not parked in ${file}: ${r.unknown.join(', ')} (list them with "coexist parked")`);
        } finally {
          await store.close();
        }
      }
    );

  coexist
    .command('divergences')
    .description('List what the reconciliation audits found on one side only, and how each was repaired')
    .option(...storeOption)
    .option('--json', 'print the list as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ zim-migrate coexist divergences --store /var/lib/zim-migrate/coexist.sqlite
  $ zim-migrate coexist divergences --store coexist.sqlite --json | jq '.[] | select(.repairedAt == null)'
  $ ZIM_MIGRATE_DATABASE_PASSWORD_FILE=/run/secrets/zim_db_password \
    zim-migrate coexist divergences --store postgres://zim@db.internal:5432/zim_migrate

Callbacks and routing events can be lost (ZEGO drops a callback after about a minute of retries, a legacy backend
after its own). What is lost never reaches a conversation, so the sync audits: every --audit-every-minutes (see
"coexist start") and once more at "coexist stop", it lists each conversation's messages on both sides and matches
them by the ids our mirrors carry (ZIM ExtendedData _mig.lid; legacy clientMsgId / originTag). Each message on one
side only is a divergence: it is recorded here and handed back to its conversation under an "audit:" key, where
the usual mirror path (ledger intent, tail check) writes it to the other side exactly once.

Each entry: when it was found, the conversation, the side and message id (never text), and "repaired": when and
how (the conversation it was handed to), or "no" with why (e.g. the ledger says it was mirrored: check the other
side). "gap" entries are legacy sequence numbers its read API did not return: nothing to hand back; look at the
legacy system. "group" entries are group changes (a member who joined or left, a group created or dismissed) found
on one side only, handed back as that side's group event, or "no" when nothing says on which side it was made.
Reads the store only: Temporal need not be reachable.
Exit codes: 0 listed, 2 bad usage (no store at that path, or a bad store URL).`
    )
    .action(async (o: { store?: string; json?: boolean }) => {
      const location = coexistStoreLocation(o.store);
      const file = storeName(location);
      const store = await openStoreToRead(location);
      try {
        const list = await store.divergences();
        process.stdout.write(o.json ? `${JSON.stringify(list)}\n` : renderDivergences(file, list));
      } finally {
        await store.close();
      }
    });
}

const storeOption = [
  '--store <file|url>',
  'the coexistence store the receivers and workers use: their --store or ZIM_MIGRATE_COEXIST_STORE (a SQLite ' +
    'file, or a postgres:// URL; its password in ZIM_MIGRATE_DATABASE_PASSWORD[_FILE]; default coexist.sqlite)',
] as const;

/** Opens the store an operator command reads: a file must exist (an empty new one would list nothing). */
async function openStoreToRead(location: string): Promise<CoexistStore> {
  if (!isPostgresStore(location) && !existsSync(location))
    throw new UsageError(
      `No coexistence store at ${location}: pass --store with the store the receivers use (their --store or ` +
        'ZIM_MIGRATE_COEXIST_STORE: a file, or a postgres:// URL)'
    );
  return openCoexistStore(location);
}

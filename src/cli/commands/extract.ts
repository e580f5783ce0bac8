/**
 * `zim-migrate extract sendbird`: a Sendbird app (export files or the Platform API) into an export directory that
 * validate and plan take as it is, as a Temporal workflow; and `zim-migrate extract-worker`, its worker.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { ExtractDir, ID_MAP_FILE, REPORT_FILE } from '../../sources/extract-dir';
import { renderReport } from '../../sources/report';
import { readSendbirdApiToken } from '../../sources/sendbird/api-token';
import { DEFAULT_MAPPING } from '../../sources/sendbird/mapping';
import type { ExtractSummary, SendbirdExtractConfig } from '../../sources/sendbird/units';
import { UsageError } from '../../shared/usage-error';
import { connectClient, connectWorkerConnection, resolveTemporalSettings } from '../../temporal-connection/connect';
import { createExtractWorker } from '../../worker/extract-worker';
import { installWorkerLogger } from '../../worker/worker-logger';
import type { ExtractInput, extractWorkflow } from '../../../workflows/extract';
import { EXTRACT_TASK_QUEUE, extractProgressQuery } from '../../shared/extract-api';
import { parseFlags } from '../flags';
import { settingLayers } from '../setting-layers';

/** A day (2026-01-31, UTC midnight) or an ISO time with a zone, to Unix ms. */
const dateFlag = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/, {
    error: 'expected a date such as 2024-01-31 (UTC) or a time such as 2024-01-31T08:00:00Z',
  })
  .transform((v, ctx) => {
    const ms = Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: `not a real date: ${v}` });
      return z.NEVER;
    }
    return ms;
  });

const flagsSchema = z
  .object({
    out: z.string().min(1),
    fromExportDir: z.string().min(1).optional(),
    api: z.url({ error: 'expected a URL such as https://api-APP_ID.sendbird.com' }).optional(),
    appId: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, { error: 'a Sendbird application id is letters, digits and dashes' })
      .optional(),
    apiTokenFile: z.string().optional(),
    exportJobs: z.boolean().optional(),
    from: dateFlag.optional(),
    to: dateFlag.optional(),
    windowDays: z.coerce.number().int().min(1).max(31),
    pollSeconds: z.coerce.number().positive().max(3600),
    idMap: z.string().optional(),
    adminMessages: z.enum(['system', 'drop']),
    systemUser: z.string().min(1).max(32),
    removedMessages: z.enum(['skip', 'keep']),
    blocks: z.boolean(),
    concurrency: z.coerce.number().int().min(1).max(64),
    requestsPerSecond: z.coerce.number().positive().max(10_000),
    embeddedWorker: z.boolean().optional(),
    taskQueue: z.string().min(1).optional(),
    workflowId: z.string().min(1).optional(),
    json: z.boolean().optional(),
  })
  .refine((f) => [f.fromExportDir, f.api ?? f.appId].filter(Boolean).length === 1, {
    error: 'give exactly one source: --from-export-dir DIR|ZIP, or --api URL / --app-id ID',
  })
  .refine((f) => !f.exportJobs || (f.from !== undefined && !f.fromExportDir), {
    error:
      '--export-jobs needs --app-id (or --api) and --from DATE: the day your Sendbird app was created, or earlier (a data export holds only what was created between --from and --to)',
    path: ['exportJobs'],
  })
  .refine((f) => f.exportJobs || (f.from === undefined && f.to === undefined), {
    error: '--from and --to select the windows of data export jobs: add --export-jobs',
    path: ['from'],
  })
  .refine((f) => f.from === undefined || (f.to ?? startOfHour()) > f.from, {
    error: '--to must be after --from',
    path: ['to'],
  });

type Flags = z.infer<typeof flagsSchema>;

/** The default --to: the start of the current hour (UTC), so a rerun within the hour asks for the same windows. */
const startOfHour = () => Math.floor(Date.now() / 3_600_000) * 3_600_000;

export function extractConfig(f: Flags): SendbirdExtractConfig {
  const outDir = path.resolve(f.out);
  return {
    outDir,
    route: f.fromExportDir
      ? { kind: 'export', path: path.resolve(f.fromExportDir) }
      : f.exportJobs
        ? {
            kind: 'export-jobs',
            baseUrl: f.api ?? `https://api-${f.appId}.sendbird.com`,
            fromMs: f.from!,
            toMs: f.to ?? startOfHour(),
            windowDays: f.windowDays,
            pollMs: Math.round(f.pollSeconds * 1000),
          }
        : { kind: 'api', baseUrl: f.api ?? `https://api-${f.appId}.sendbird.com` },
    mapping: { adminMessages: f.adminMessages, systemUserId: f.systemUser, removedMessages: f.removedMessages },
    ...(f.idMap ? { earlierIdMap: path.resolve(f.idMap) } : {}),
    blocks: f.blocks,
  };
}

/** The same output directory gives the same workflow id: running the command again attaches to (or resumes) it. */
export const extractWorkflowId = (outDir: string) =>
  `zim-migrate-extract/${path.basename(outDir)}-${createHash('sha256').update(outDir).digest('hex').slice(0, 8)}`;

const extractTaskQueue = (f: { taskQueue?: string }) =>
  f.taskQueue ?? process.env.ZIM_MIGRATE_EXTRACT_TASK_QUEUE ?? EXTRACT_TASK_QUEUE;

export function renderExtractSummary(s: ExtractSummary, outDir: string): string {
  return [
    `Extracted into ${outDir}:`,
    `  users ${s.users} (${s.deactivatedUsers} deactivated, ${s.unlistedUsers} known only from messages or memberships)`,
    `  groups ${s.groups} with ${s.members} members · one-to-one messages ${s.peerMessages} · group messages ${s.groupMessages} · blocks ${s.blocks} · read states ${s.readStates}`,
    '',
    'Left out or changed (every item is in ' + path.join(outDir, REPORT_FILE) + '):',
    renderReport(s.report),
    '',
    s.mappedIds > 0
      ? `IMPORTANT: ${s.mappedIds} Sendbird ids do not fit ZIM (over 32 bytes or characters ZIM refuses) and were mapped.\n` +
        `  The map is ${path.join(outDir, ID_MAP_FILE)} ({"kind","source","zim"} per line). Your app MUST log these users in\n` +
        '  to ZIM with the mapped id (look it up by the Sendbird user_id) and open mapped groups by their mapped id.\n' +
        '  Pass this file to every later extraction (--id-map) so the ids stay the same.'
      : 'Every Sendbird id fits ZIM as it is: no id was mapped.',
    '',
    `Next: zim-migrate validate ${outDir}`,
  ].join('\n');
}

export function registerExtractCommands(program: Command): void {
  const extract = program
    .command('extract')
    .description('Extract a legacy chat system into an export directory (docs/sources.md)')
    .addHelpText(
      'after',
      `
Sources: sendbird (its data-export files, the Platform API, or data export jobs it requests). "zim-migrate
extract sendbird --help" says more.

Examples:
  $ zim-migrate extract sendbird --from-export-dir ./sendbird-export.zip --out ./export --embedded-worker

Exit codes: 0 extracted, 1 failure, 2 bad usage.`
    );
  extract
    .command('sendbird')
    .description(
      'Extract a Sendbird app (export files, the Platform API or data export jobs) as a durable Temporal workflow'
    )
    .requiredOption('--out <dir>', 'the export directory to write (validate and plan read it as it is)')
    .option('--from-export-dir <dir|zip>', 'a Sendbird data export (JSON): a directory or the zip Sendbird produced')
    .option('--api <url>', "the Platform API's base URL (or an emulator's), e.g. https://api-APP_ID.sendbird.com")
    .option('--app-id <id>', 'the Sendbird application id (the API is then https://api-<id>.sendbird.com)')
    .option('--api-token-file <file>', 'a file holding only the API token (else env SENDBIRD_API_TOKEN)')
    .option(
      '--export-jobs',
      'with --app-id/--api: have Sendbird build data exports (a premium feature) and download them, instead of paging the list APIs'
    )
    .option('--from <date>', 'export jobs: from this day or time (UTC), the day the app was created or earlier')
    .option('--to <date>', 'export jobs: up to this day or time, excluded (default: the start of the current hour)')
    .option('--window-days <n>', 'export jobs: days per job; Sendbird refuses long windows (7 is safe)', '7')
    .option('--poll-seconds <n>', "export jobs: how often a job's status is asked", '10')
    .option('--id-map <file>', 'the id-map.ndjson of an earlier extraction: its mapped ids are kept')
    .addOption(
      new Option('--admin-messages <what>', 'admin messages (no sender): from the system user, or dropped')
        .choices(['system', 'drop'])
        .default('system')
    )
    .option('--system-user <id>', 'the user id admin messages are sent by', DEFAULT_MAPPING.systemUserId)
    .addOption(
      new Option('--removed-messages <what>', 'messages deleted in Sendbird (is_removed)')
        .choices(['skip', 'keep'])
        .default('skip')
    )
    .option('--no-blocks', 'do not read blocklists (one request per user)')
    .option('--concurrency <n>', 'channels extracted at once', '4')
    .option('--requests-per-second <n>', "the embedded worker's pace towards Sendbird (your plan's GET limit)", '20')
    .option('--embedded-worker', 'run an extract worker inside this command (else run "zim-migrate extract-worker")')
    .option(
      '--task-queue <name>',
      `the extract task queue (env ZIM_MIGRATE_EXTRACT_TASK_QUEUE, default ${EXTRACT_TASK_QUEUE})`
    )
    .option('--workflow-id <id>', 'the workflow id (default: derived from --out, so running again resumes)')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `
What it does (docs/sources.md has the mapping and why):
  users (active_mode=all: deactivated ones too) -> users.ndjson, deactivated ones flagged
  distinct group channels of 2 members -> one-to-one history (peer_messages.c*.ndjson)
  other group channels and supergroups -> groups, members (operators become admins), group history
  open channels -> not extracted (counted in the report)
  MESG -> text, FILE -> image/video/audio/file, ADMM -> from --system-user or dropped, unknown types -> custom
  data / custom_type -> the message's extendedData; blocklists -> blocks.ndjson (API and export-jobs routes)
  channel read_receipt -> read_states.c*.ndjson: each member at the last message at or before their read time
    (each owner's copy of a DM; supergroups have none); the migration marks conversations read up to their
    newest message with ClearConversationUnread (validate warns read.partial for positions it cannot set)
Ids that ZIM cannot take (over 32 bytes, or characters ZIM refuses) are mapped deterministically; the map is
written to id-map.ndjson in --out. YOUR APP MUST LOG USERS IN WITH THE MAPPED ID. Pass --id-map to later rounds.
Everything left out or changed is counted, with examples, in extract-report.json.

The work runs as the Temporal workflow ${'`'}extractWorkflow${'`'}: one activity per channel (and per listing, per 200
users' blocklists), each resumable; run the command again with the same --out to resume after a crash. Progress:
the workflow's query "extractProgress", or its details in the Temporal UI.

Three routes:
  --from-export-dir DIR|ZIP   files you downloaded from Sendbird's dashboard (Chat > Data exports), JSON format
  --app-id ID (or --api URL)  the Platform API's list endpoints, page by page (about one request per 200 messages)
  --app-id ID --export-jobs --from DATE [--to DATE]
                              data export jobs (POST /v3/export/{users,channels,messages}): one job per data type
                              and --window-days window, polled every --poll-seconds, its zip downloaded (an expired
                              link is asked for again) and read like a downloaded export; blocklists still come
                              from the API. A job holds what was CREATED in its window, so --from must reach back
                              to the app's creation. Each job is created once: its request_id is kept in
                              --out/.extract, so a crash or a rerun polls the same job (and a finished download is
                              never fetched again); a failed or expired job is forgotten, and a rerun asks anew.

Secrets: the API token only from SENDBIRD_API_TOKEN or --api-token-file, read by the worker; never in flags,
the workflow input, logs or errors. Temporal: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_PROFILE, ...

Examples:
  $ zim-migrate extract sendbird --from-export-dir ./sendbird-export.zip --out ./export --embedded-worker
  $ SENDBIRD_API_TOKEN=... zim-migrate extract sendbird --app-id 1A2B3C --out ./export --embedded-worker
  $ SENDBIRD_API_TOKEN=... zim-migrate extract sendbird --app-id 1A2B3C --export-jobs --from 2021-03-01 \
      --to 2026-12-01 --out ./export --embedded-worker
  $ zim-migrate extract-worker --api-token-file ./sb-token &   # then, from anywhere:
  $ zim-migrate extract sendbird --app-id 1A2B3C --out /data/export --id-map ./round1/id-map.ndjson
  $ zim-migrate validate ./export && zim-migrate plan ./export --out acme.sqlite

Exit codes: 0 extracted, 1 failure (a malformed export file, Sendbird refused the token, an export job failed or
its file expired, Temporal unreachable:
the message names the file or request and what to do), 2 bad usage.`
    )
    .action(async (raw: Record<string, unknown>, command: Command) => {
      const f = parseFlags(flagsSchema, raw);
      const cfg = extractConfig(f);
      mkdirSync(cfg.outDir, { recursive: true });
      new ExtractDir(cfg.outDir).prepare();
      const layers = settingLayers(command);
      const temporal = resolveTemporalSettings(layers);
      const taskQueue = extractTaskQueue(f);
      let stopWorker: (() => Promise<void>) | undefined;
      if (f.embeddedWorker) {
        installWorkerLogger('WARN');
        const apiToken = cfg.route.kind !== 'export' ? readSendbirdApiToken(f.apiTokenFile) : undefined;
        if (cfg.route.kind !== 'export' && !apiToken)
          throw new UsageError('the API route needs the token: set SENDBIRD_API_TOKEN or pass --api-token-file');
        const { connection, namespace } = await connectWorkerConnection(temporal);
        const worker = await createExtractWorker({
          connection,
          namespace,
          taskQueue,
          apiToken,
          requestsPerSecond: f.requestsPerSecond,
        });
        const running = worker.run();
        stopWorker = async () => {
          worker.shutdown();
          await running;
          await connection.close();
        };
      }
      try {
        const client = await connectClient(temporal);
        const workflowId = f.workflowId ?? extractWorkflowId(cfg.outDir);
        const input: ExtractInput = { config: cfg, concurrency: f.concurrency };
        let handle: WorkflowHandle<typeof extractWorkflow>;
        try {
          handle = await client.workflow.start<typeof extractWorkflow>('extractWorkflow', {
            taskQueue,
            workflowId,
            args: [input],
            workflowIdConflictPolicy: 'USE_EXISTING',
          });
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          handle = client.workflow.getHandle(workflowId);
        }
        console.error(
          `zim-migrate extract: workflow ${workflowId} on task queue ${taskQueue}${f.embeddedWorker ? ' (embedded worker)' : ''}`
        );
        // One progress query at a time, and none left in flight when the connection closes: a query still retrying
        // then throws from a timer ("Channel has been shut down") and ends the process with exit 1.
        const finished = new AbortController();
        const progress = (async () => {
          let last = '';
          for (;;) {
            await sleep(2000, undefined, { signal: finished.signal }).catch(() => undefined);
            if (finished.signal.aborted) break;
            const p = await handle.query(extractProgressQuery).catch(() => undefined);
            if (!p) continue;
            const line =
              p.phase === 'export-jobs'
                ? `  export-jobs: ${p.exportJobsDone ?? 0}/${p.exportJobs ?? 0} jobs done`
                : `  ${p.phase}: channels ${p.channelsDone}/${p.channels}, messages ${p.messages}`;
            if (line !== last) console.error((last = line));
          }
        })();
        let summary: ExtractSummary;
        try {
          summary = await handle.result();
        } finally {
          finished.abort();
          await progress;
        }
        console.log(f.json ? JSON.stringify(summary, null, 2) : renderExtractSummary(summary, cfg.outDir));
        await client.connection.close();
      } finally {
        await stopWorker?.();
      }
    });

  program
    .command('extract-worker')
    .description('Run a worker for extractions (the extract task queue) until Ctrl-C or SIGTERM')
    .option('--api-token-file <file>', 'a file holding only the Sendbird API token (else env SENDBIRD_API_TOKEN)')
    .option(
      '--requests-per-second <n>',
      "this worker's pace towards Sendbird, all channels together (your plan's GET limit)",
      '20'
    )
    .option(
      '--task-queue <name>',
      `the extract task queue (env ZIM_MIGRATE_EXTRACT_TASK_QUEUE, default ${EXTRACT_TASK_QUEUE})`
    )
    .addHelpText(
      'after',
      `
It runs extractWorkflow and its activities. It needs the output directory and any export file at the paths the
extract command gave (run it on the machine that holds them), and, for the API route, the Sendbird API token from
SENDBIRD_API_TOKEN or --api-token-file (kept in this process). Temporal: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...

Examples:
  $ SENDBIRD_API_TOKEN=... zim-migrate extract-worker --requests-per-second 50
  $ zim-migrate extract-worker --api-token-file /run/secrets/sendbird

Exit codes: 0 stopped by Ctrl-C or SIGTERM, 1 failure (Temporal unreachable), 2 bad usage.`
    )
    .action(async (raw: { apiTokenFile?: string; requestsPerSecond: string; taskQueue?: string }, command: Command) => {
      const rate = z.coerce.number().positive().safeParse(raw.requestsPerSecond);
      if (!rate.success) throw new UsageError('--requests-per-second: expected a positive number');
      installWorkerLogger();
      const apiToken = readSendbirdApiToken(raw.apiTokenFile);
      const temporal = resolveTemporalSettings(settingLayers(command));
      const taskQueue = extractTaskQueue(raw);
      const { connection, namespace } = await connectWorkerConnection(temporal);
      const worker = await createExtractWorker({
        connection,
        namespace,
        taskQueue,
        apiToken,
        requestsPerSecond: rate.data,
      });
      console.error(
        `zim-migrate extract-worker: Temporal ${temporal.connectionOptions.address} namespace ${namespace} task queue ${taskQueue}; ` +
          `Sendbird token ${apiToken ? (raw.apiTokenFile ? `from ${raw.apiTokenFile}` : 'from SENDBIRD_API_TOKEN') : 'none (export files only)'}`
      );
      await worker.run();
      await connection.close();
    });
}

/**
 * Extraction from a source into our export format (docs/sources.md): on the export-jobs route first one activity per
 * data export job (data type × window), then list, map ids, then one activity per channel
 * (a window of `concurrency` at a time) and per chunk of blocklists, then finalize. A unit Temporal saw complete is
 * never run again; a unit that was running when a worker died is retried from its last heartbeated page. The
 * workflow continues as new every few hundred units, carrying only counters (units are numbered).
 */
import {
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ExtractActivities } from '../activities/extract';
import type { ExtractSummary, SendbirdExtractConfig } from '../src/sources/sendbird/units';
import {
  BLOCK_CHUNK_USERS,
  exportJobUnits,
  extractProgressQuery,
  type ExtractProgress,
} from '../src/shared/extract-api';

export interface ExtractInput {
  config: SendbirdExtractConfig;
  /** Units in flight at once. */
  concurrency: number;
  /** Units per run before continuing as new (tests set it low). */
  unitsPerRun?: number;
  /** Default 60 seconds; tests of a killed worker shorten it. */
  heartbeatTimeout?: string;
  progress?: ExtractProgress;
}

const activities = (heartbeatTimeout: string) =>
  proxyActivities<ExtractActivities>({
    startToCloseTimeout: '2 hours',
    // A dead worker's unit is retried elsewhere after this long without a heartbeat (one comes after every page).
    heartbeatTimeout,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });

// A data export job may wait hours in Sendbird's queue; the worker polls it, heartbeating each answer.
const exportJobActivities = (heartbeatTimeout: string) =>
  proxyActivities<ExtractActivities>({
    startToCloseTimeout: '24 hours',
    heartbeatTimeout,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });

const ROUTE_NAME = { api: 'Platform API', export: 'export files', 'export-jobs': 'data export jobs' } as const;

export async function extractWorkflow(input: ExtractInput): Promise<ExtractSummary> {
  const cfg = input.config;
  const acts = activities(input.heartbeatTimeout ?? '60 seconds');
  const jobActs = exportJobActivities(input.heartbeatTimeout ?? '60 seconds');
  const jobs = cfg.route.kind === 'export-jobs' ? exportJobUnits(cfg.route) : [];
  const p: ExtractProgress = input.progress ?? {
    phase: jobs.length ? 'export-jobs' : 'list',
    exportJobs: jobs.length,
    exportJobsDone: 0,
    users: 0,
    channels: 0,
    channelsDone: 0,
    messages: 0,
    blockChunks: 0,
    blockChunksDone: 0,
  };
  setHandler(extractProgressQuery, () => p);
  const show = () =>
    setCurrentDetails(
      `**Extract from Sendbird** (${ROUTE_NAME[cfg.route.kind]}) into \`${cfg.outDir}\`\n\n` +
        `phase: **${p.phase}** · ` +
        (jobs.length ? `export jobs ${p.exportJobsDone ?? 0}/${jobs.length} · ` : '') +
        `users ${p.users} · channels ${p.channelsDone}/${p.channels} · messages ${p.messages}` +
        (cfg.blocks && cfg.route.kind !== 'export' ? ` · blocklist chunks ${p.blockChunksDone}/${p.blockChunks}` : '')
    );
  show();

  const budget = input.unitsPerRun ?? 500;
  let started = 0;
  const window = async (total: () => number, doneCount: () => number, run: (i: number) => Promise<void>) => {
    let next = doneCount();
    let running = 0;
    let failure: Error | undefined;
    while (next < total() || running > 0) {
      if (failure !== undefined) {
        await condition(() => running === 0);
        throw failure;
      }
      if (started >= budget || workflowInfo().continueAsNewSuggested) {
        await condition(() => running === 0);
        // Units finish out of order; continuing counts as done only the prefix that finished (a unit after it
        // that also finished is asked again and answers from its done file without fetching).
        return false;
      }
      if (next < total() && running < input.concurrency) {
        const i = next++;
        running++;
        started++;
        void run(i)
          .catch((err: unknown) => {
            failure ??= err instanceof Error ? err : new Error(String(err));
          })
          .finally(() => running--);
        continue;
      }
      await condition(() => failure !== undefined || (next < total() ? running < input.concurrency : running === 0));
    }
    if (failure !== undefined) throw failure;
    return true;
  };
  const finished = new Set<number>();
  const prefix = (base: number) => {
    let n = base;
    while (finished.has(n)) n++;
    return n;
  };

  if (p.phase === 'export-jobs') {
    // One activity per job (data type × window): created once, polled, downloaded, unpacked; then one scan.
    const base = p.exportJobsDone ?? 0;
    const completed = await window(
      () => jobs.length,
      () => base,
      async (i) => {
        await jobActs.extractExportJob(cfg, i);
        finished.add(i);
        p.exportJobsDone = prefix(base);
        show();
      }
    );
    if (!completed) return await continueAsNew<typeof extractWorkflow>({ ...input, progress: p });
    finished.clear();
    p.phase = 'list';
    show();
  }
  if (p.phase === 'list') {
    if (cfg.route.kind === 'api') {
      p.users = (await acts.extractListUsers(cfg)).users;
      show();
      await acts.extractListChannels(cfg);
    } else p.users = (await acts.extractScanExport(cfg)).users;
    p.phase = 'id-map';
    show();
  }
  if (p.phase === 'id-map') {
    p.channels = (await acts.extractIdMap(cfg)).channels;
    p.blockChunks = cfg.blocks && cfg.route.kind !== 'export' ? Math.ceil(p.users / BLOCK_CHUNK_USERS) : 0;
    p.phase = 'messages';
    show();
  }
  if (p.phase === 'messages') {
    const base = p.channelsDone;
    const completed = await window(
      () => p.channels,
      () => base,
      async (i) => {
        const r = await acts.extractChannelMessages(cfg, i);
        p.messages += r.messages;
        finished.add(i);
        p.channelsDone = prefix(base);
        show();
      }
    );
    if (!completed) return await continueAsNew<typeof extractWorkflow>({ ...input, progress: p });
    p.phase = 'blocks';
    finished.clear();
  }
  if (p.phase === 'blocks') {
    const base = p.blockChunksDone;
    const completed = await window(
      () => p.blockChunks,
      () => base,
      async (i) => {
        await acts.extractBlocks(cfg, i);
        finished.add(i);
        p.blockChunksDone = prefix(base);
        show();
      }
    );
    if (!completed) return await continueAsNew<typeof extractWorkflow>({ ...input, progress: p });
    p.phase = 'finalize';
  }
  show();
  const summary = await acts.extractFinalize(cfg, p.blockChunks);
  p.phase = 'done';
  p.messages = summary.peerMessages + summary.groupMessages;
  show();
  return summary;
}

/**
 * The extraction's activities: one per unit of src/sources/sendbird/units.ts. Paged units heartbeat a checkpoint
 * after each page; a retry (after a worker crash) reads it and goes on from there. The Sendbird API token comes from
 * the worker's own deps (environment or file), never from the workflow input. Errors that asking again cannot fix
 * (a malformed export file, a refused token, a conflicting id map) fail the workflow at once with their message.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ExportArchiveError } from '../src/sources/export-archive';
import { RequestPacer, SourceHttpError, type FetchStats } from '../src/sources/http-fetch';
import { IdMapError } from '../src/sources/id-map';
import { ExportFileError } from '../src/sources/sendbird/export-files';
import { exportJob, ExportJobError } from '../src/sources/sendbird/export-jobs';
import {
  blocksChunk,
  buildIdMap,
  channelCount,
  channelMessages,
  finalize,
  listChannels,
  listUsers,
  scanExport,
  type Checkpoint,
  type SendbirdExtractConfig,
  type SourceRuntime,
} from '../src/sources/sendbird/units';

export interface ExtractActivityDeps {
  /** Sendbird's API token (SENDBIRD_API_TOKEN or --api-token-file); absent for the export-file route. */
  apiToken?: string;
  /** Requests per second this worker sends to Sendbird, all units together. */
  requestsPerSecond: number;
}

function checkpoint<T>(): Checkpoint<T> {
  const ctx = Context.current();
  return { resume: ctx.info.heartbeatDetails as T | undefined, save: (d) => ctx.heartbeat(d) };
}

async function permanentAsFailure<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (
      err instanceof ExportFileError ||
      err instanceof ExportArchiveError ||
      err instanceof IdMapError ||
      err instanceof ExportJobError ||
      (err instanceof SourceHttpError && err.permanent)
    )
      throw ApplicationFailure.nonRetryable(err.message, err.name);
    throw err;
  }
}

export function createExtractActivities(deps: ExtractActivityDeps) {
  const stats: FetchStats = { requests: 0, tooMany: 0, retries: 0 };
  const rt: SourceRuntime = { apiToken: deps.apiToken, pacer: new RequestPacer(deps.requestsPerSecond), stats };
  return {
    async extractListUsers(cfg: SendbirdExtractConfig) {
      return permanentAsFailure(() => listUsers(cfg, rt, checkpoint()));
    },
    async extractListChannels(cfg: SendbirdExtractConfig) {
      return permanentAsFailure(() => listChannels(cfg, rt, checkpoint()));
    },
    async extractExportJob(cfg: SendbirdExtractConfig, index: number) {
      return permanentAsFailure(() => exportJob(cfg, rt, index, checkpoint()));
    },
    async extractScanExport(cfg: SendbirdExtractConfig) {
      return permanentAsFailure(() => scanExport(cfg));
    },
    async extractIdMap(cfg: SendbirdExtractConfig) {
      return permanentAsFailure(async () => ({ ...(await buildIdMap(cfg)), channels: channelCount(cfg) }));
    },
    async extractChannelMessages(cfg: SendbirdExtractConfig, index: number) {
      const s = await permanentAsFailure(() => channelMessages(cfg, rt, index, checkpoint()));
      // The workflow needs counts only; the summary stays in the unit's done file.
      return { messages: s.messages, kind: s.kind };
    },
    async extractBlocks(cfg: SendbirdExtractConfig, chunk: number) {
      return permanentAsFailure(() => blocksChunk(cfg, rt, chunk, checkpoint()));
    },
    async extractFinalize(cfg: SendbirdExtractConfig, blockChunks: number) {
      return permanentAsFailure(() => finalize(cfg, blockChunks));
    },
  };
}

export type ExtractActivities = ReturnType<typeof createExtractActivities>;

/** The extract workflow's names shared by workflow code and the CLI (free of Node APIs). */
import { defineQuery } from '@temporalio/workflow';

export const EXTRACT_TASK_QUEUE = 'zim-migrate-extract';
/** Users whose blocklists one activity reads. */
export const BLOCK_CHUNK_USERS = 200;

export interface ExtractProgress {
  phase: 'export-jobs' | 'list' | 'id-map' | 'messages' | 'blocks' | 'finalize' | 'done';
  users: number;
  channels: number;
  /** Channels done in order from the first (a few after them may be done too). */
  channelsDone: number;
  messages: number;
  blockChunks: number;
  blockChunksDone: number;
  /** The export-jobs route's jobs (data type × window), and how many are done in order from the first. */
  exportJobs?: number;
  exportJobsDone?: number;
}

export const extractProgressQuery = defineQuery<ExtractProgress>('extractProgress');

/** What data export jobs the export-jobs route requests, in this order (users first: the listing needs them). */
export const EXPORT_JOB_TYPES = ['users', 'channels', 'messages'] as const;
export type ExportJobType = (typeof EXPORT_JOB_TYPES)[number];

export interface ExportJobUnit {
  dataType: ExportJobType;
  /** Unix ms: objects created in [startTs, endTs). */
  startTs: number;
  endTs: number;
}

/**
 * The export-jobs route's units: every data type over [fromMs, toMs) in windows of `windowDays` (Sendbird limits a
 * job's range: source-formats.md §1.1 A). Deterministic, so the workflow and its activities number them alike.
 */
export function exportJobUnits(r: { fromMs: number; toMs: number; windowDays: number }): ExportJobUnit[] {
  const step = r.windowDays * 86_400_000;
  const out: ExportJobUnit[] = [];
  for (const dataType of EXPORT_JOB_TYPES)
    for (let s = r.fromMs; s < r.toMs; s += step) out.push({ dataType, startTs: s, endTs: Math.min(r.toMs, s + step) });
  return out;
}

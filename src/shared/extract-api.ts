/** The extract workflow's names shared by workflow code and the CLI (free of Node APIs). */
import { defineQuery } from '@temporalio/workflow';

export const EXTRACT_TASK_QUEUE = 'zim-migrate-extract';
/** Users whose blocklists one activity reads. */
export const BLOCK_CHUNK_USERS = 200;

export interface ExtractProgress {
  phase: 'list' | 'id-map' | 'messages' | 'blocks' | 'finalize' | 'done';
  users: number;
  channels: number;
  /** Channels done in order from the first (a few after them may be done too). */
  channelsDone: number;
  messages: number;
  blockChunks: number;
  blockChunksDone: number;
}

export const extractProgressQuery = defineQuery<ExtractProgress>('extractProgress');

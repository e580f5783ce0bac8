/**
 * Worker thread body: parses and checks one file (parse-file.ts) and posts its rows and rejects to the
 * main thread in batches, which inserts them. At most MAX_IN_FLIGHT batches wait unacknowledged, so a
 * slow database slows the reading instead of filling memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RejectInput } from '../import-format/rejects';
import { parseFile, type FileJob } from './parse-file';

export interface Batch {
  kind: 'batch';
  rows: unknown[][];
  rejects: RejectInput[];
}
export type WorkerMessage =
  Batch | { kind: 'done'; summary: Awaited<ReturnType<typeof parseFile>> } | { kind: 'failed'; message: string };

const ROWS_PER_BATCH = 4096;
const MAX_IN_FLIGHT = 4;

async function run(port: NonNullable<typeof parentPort>, job: FileJob): Promise<void> {
  let batch: Batch = { kind: 'batch', rows: [], rejects: [] };
  let inFlight = 0;
  let acked: (() => void) | null = null;
  port.on('message', () => {
    inFlight--;
    acked?.();
  });
  const post = () => {
    if (batch.rows.length === 0 && batch.rejects.length === 0) return;
    port.postMessage(batch);
    inFlight++;
    batch = { kind: 'batch', rows: [], rejects: [] };
  };
  const summary = await parseFile(job, {
    row: (params) => {
      batch.rows.push(params);
      if (batch.rows.length >= ROWS_PER_BATCH) post();
    },
    reject: (input) => batch.rejects.push(input),
    afterChunk: () => {
      if (batch.rejects.length > ROWS_PER_BATCH) post();
      if (inFlight < MAX_IN_FLIGHT) return undefined;
      return new Promise<void>((resolve) => {
        acked = () => {
          if (inFlight < MAX_IN_FLIGHT) {
            acked = null;
            resolve();
          }
        };
      });
    },
  });
  post();
  port.postMessage({ kind: 'done', summary } satisfies WorkerMessage);
}

if (parentPort) {
  const port = parentPort;
  run(port, workerData as FileJob).catch((err: unknown) =>
    port.postMessage({
      kind: 'failed',
      message: err instanceof Error ? (err.stack ?? err.message) : String(err),
    } satisfies WorkerMessage)
  );
}

/**
 * Large files are parsed and checked on worker threads while this thread inserts what they post:
 * a gzip file on one worker, an uncompressed one cut at line starts into PARSE_THREADS parts.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { splitAtLines, type ReadSummary } from '../import-format/ndjson-reader';
import type { RejectInput } from '../import-format/rejects';
import type { FileJob, ParseOutput } from './parse-file';
import type { WorkerMessage } from './parse-worker';

/** Two parsers and this thread's inserts keep a 2-core machine busy; more would only contend. */
const PARSE_THREADS = 2;

export async function parseLargeFile(job: FileJob, out: Pick<ParseOutput, 'row' | 'reject'>): Promise<ReadSummary> {
  if (job.path.endsWith('.gz')) return parseFileInWorker(job, out);
  const ranges = await splitAtLines(job.path, PARSE_THREADS);
  // A warning about the whole file (CRLF) would come once per part: pass on the first.
  let crlfSeen = false;
  const once = {
    row: out.row,
    reject: (r: RejectInput) => {
      if (r.rule === 'file.crlf' && crlfSeen) return;
      if (r.rule === 'file.crlf') crlfSeen = true;
      out.reject(r);
    },
  };
  const parts = await Promise.all(ranges.map((range) => parseFileInWorker({ ...job, range }, once)));
  return {
    lines: parts.reduce((n, p) => n + p.lines, 0),
    contentLines: parts.reduce((n, p) => n + p.contentLines, 0),
    records: parts.reduce((n, p) => n + p.records, 0),
  };
}

/** Runs parse-worker.ts on a worker thread and hands its batches to `out` on this thread, in order. */

/**
 * The sources run through tsx in the worker too, as in the CLI (no build step). An eval'd worker resolves bare
 * names from the process's working directory, so tsx is named by the path this module resolves it to: the
 * command then works from any directory and from a global install.
 */
const BOOTSTRAP =
  `require(${JSON.stringify(require.resolve('tsx/cjs'))});` +
  `require(${JSON.stringify(path.join(__dirname, 'parse-worker.ts'))});`;

export function parseFileInWorker(job: FileJob, out: Pick<ParseOutput, 'row' | 'reject'>): Promise<ReadSummary> {
  return new Promise((resolve, reject) => {
    // A parser holds a few batches at a time; a small heap keeps each worker's RSS low (measured: no slower).
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: job,
      resourceLimits: { maxOldGenerationSizeMb: 64 },
    });
    let settled = false;
    const finish = (err: Error | null, summary?: ReadSummary) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      if (err) reject(err);
      else resolve(summary!);
    };
    worker.on('message', (msg: WorkerMessage) => {
      try {
        if (msg.kind === 'batch') {
          for (const params of msg.rows) out.row(params);
          for (const r of msg.rejects) out.reject(r);
          worker.postMessage('ack');
        } else if (msg.kind === 'done') {
          finish(null, msg.summary);
        } else {
          finish(new Error(`parsing ${job.path} failed: ${msg.message}`));
        }
      } catch (err) {
        finish(err as Error);
      }
    });
    worker.on('error', (err) => finish(err));
    worker.on('exit', (code) => finish(new Error(`the parser of ${job.path} exited with code ${code}`)));
  });
}

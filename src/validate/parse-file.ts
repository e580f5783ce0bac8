/**
 * Reads one export file and checks every record: each record to stage goes to `row` (as its INSERT
 * parameters), each problem to `reject`. The same code runs in this thread or in a worker thread
 * (parse-worker.ts) for large files, so parsing and checking overlap with the inserts.
 */
import { readNdjsonFile, type LineRange, type ReadSummary } from '../import-format/ndjson-reader';
import type { RejectInput } from '../import-format/rejects';
import { RULES } from '../import-format/rules';
import type { Entity } from '../import-format/schemas';
import type { RecordIssue } from '../import-format/zim-checks';
import { RowStatus } from '../staging/sqlite/schema';
import { RECORD_HANDLERS, type FileContext, type RowSink } from './record-loaders';

/** Everything a worker needs to parse a file: plain data only (it crosses a thread boundary). */
export interface FileJob {
  path: string;
  entity: Entity;
  appName: string;
  context: FileContext;
  /** Part of a large uncompressed file, when several threads share it. */
  range?: LineRange;
}

export interface ParseOutput {
  row: RowSink;
  reject: (input: RejectInput) => void;
  afterChunk?: () => Promise<void> | undefined;
}

export function parseFile(job: FileJob, out: ParseOutput): Promise<ReadSummary> {
  const where = { app: job.appName, file: job.path };
  const report = (line: number, recordId: string | null, issues: RecordIssue[]): number | null => {
    if (issues.length === 0) return RowStatus.ok;
    let error = false;
    for (const issue of issues) {
      out.reject({ ...where, rule: issue.rule, line, recordId, message: issue.message });
      if (RULES[issue.rule].severity === 'error') error = true;
    }
    // Staged unless an error makes it unimportable; as expired when older than the retention window.
    if (error) return null;
    return issues.some((i) => i.rule === 'time.retention') ? RowStatus.expired : RowStatus.ok;
  };
  return readNdjsonFile(
    job.path,
    {
      record: RECORD_HANDLERS[job.entity](job.context, report, out.row),
      reject: (line, rule, message) => out.reject({ ...where, rule, line, recordId: null, message }),
      afterChunk: out.afterChunk,
    },
    job.range
  );
}

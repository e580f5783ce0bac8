/**
 * Validation of one or more exports into a new staging file: stream every file through its record
 * handler (per-record checks), then run the checks across records and the multi-app merge in SQL.
 * `plan` continues from here to the read tables (finalize.ts); `validate` stops and discards the file.
 */
import { rmSync, statSync } from 'node:fs';
import { scanExportDir, ExportDirError, type ExportDir } from '../import-format/export-dir';
import { RejectLog, type RejectInput, type RuleCount } from '../import-format/rejects';
import type { RuleId } from '../import-format/rules';
import type { Entity } from '../import-format/schemas';
import type { CheckContext } from '../import-format/zim-checks';
import type { ZimLimits } from '../import-format/zim-limits';
import { rankApps, type MergeOptions } from '../merge/merge-apps';
import { createBuildDatabase, type Db } from '../staging/sqlite/database';
import { STAGED_COLUMNS, StagingLoadWriter } from '../staging/sqlite/load-writer';
import {
  insertMergedUsers,
  mergeDuplicatePeerMessages,
  mergeSummary,
  type MergeSummary,
} from '../staging/sqlite/merged-records';
import { RowStatus } from '../staging/sqlite/schema';
import { tracePhase } from '../diagnostics/trace';
import { UsageError } from '../shared/usage-error';
import { parseFile, type FileJob } from './parse-file';
import { parseLargeFile } from './parse-in-worker';
import { ReferentialChecks } from './referential-checks';

export interface ValidateOptions {
  dirs: readonly string[];
  limits: ZimLimits;
  asOfMs: number;
  merge: MergeOptions;
  /** The file to build; replaced if it exists. */
  stagingFile: string;
  /** Where rejects are written (NDJSON); null: only counted. */
  rejectsFile: string | null;
  /** Files at least this large are parsed on worker threads while this one inserts (default 8 MiB). */
  workerThresholdBytes?: number;
}

const WORKER_THRESHOLD_BYTES = 8 * 1024 * 1024;

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export interface FileSummary {
  app: string;
  entity: Entity;
  path: string;
  lines: number;
  records: number;
}

export interface EntityCounts {
  /** Non-blank lines read. */
  read: number;
  /** Staged and importable. */
  ok: number;
  /** Staged but older than the retention window: ZIM refuses them. */
  expired: number;
  /** Repeats of a kept record (within an app, or across apps). */
  merged: number;
  /** Left out by policy (relations of deactivated users). */
  skipped: number;
  /** Errors: not importable. */
  rejected: number;
}

export interface ValidationResult {
  apps: { name: string; dir: string; rank: number }[];
  files: FileSummary[];
  entities: Record<Entity, EntityCounts>;
  merge: MergeSummary;
  errors: number;
  warnings: number;
  rules: RuleCount[];
  asOf: string;
  elapsedMs: number;
}

/** Validates into `stagingFile` and returns the open database (for plan) with the result. */
export async function validateExports(opts: ValidateOptions): Promise<{ db: Db; result: ValidationResult }> {
  const started = Date.now();
  const log = new RejectLog(opts.rejectsFile);
  const exports = scanAll(opts.dirs, log);
  const ranked = rankApps(
    exports.map((e) => e.app),
    opts.merge.prefer
  );
  for (const name of [...Object.keys(opts.merge.groupIdPrefix), ...Object.keys(opts.merge.messageIdPrefix)])
    if (!ranked.includes(name))
      throw new UsageError(`a prefix names app ${name}, which is not one of ${ranked.join(', ')}`);

  rmSync(opts.stagingFile, { force: true });
  const db = createBuildDatabase(opts.stagingFile);
  try {
    const files = await loadExports(db, exports, ranked, opts, log);
    checkAcrossRecords(db, log, opts.limits, exports.length > 1);
    log.close();
    const result: ValidationResult = {
      apps: exports.map((e) => ({ name: e.app, dir: e.dir, rank: ranked.indexOf(e.app) })),
      files,
      entities: entityCounts(db, files),
      merge: mergeSummary(db),
      errors: log.errors,
      warnings: log.warnings,
      rules: log.summary(),
      asOf: new Date(opts.asOfMs).toISOString(),
      elapsedMs: Date.now() - started,
    };
    return { db, result };
  } catch (err) {
    log.close();
    db.close();
    throw err;
  }
}

/** A problem with an export or file as a whole (no line, no record). */
function wholeFile(log: RejectLog, rule: RuleId, app: string, file: string, message: string): void {
  log.add({ rule, app, file, line: null, recordId: null, message });
}

/** Streams every file of every export through its record handler into the staging file. */
async function loadExports(
  db: Db,
  exports: readonly ExportDir[],
  ranked: readonly string[],
  opts: ValidateOptions,
  log: RejectLog
): Promise<FileSummary[]> {
  const writer = new StagingLoadWriter(db);
  const check: CheckContext = { limits: opts.limits, asOfMs: opts.asOfMs };
  const files: FileSummary[] = [];
  for (const [idx, e] of exports.entries()) {
    writer.addApp(idx, e.app, e.dir, ranked.indexOf(e.app));
    if (!e.files.some((f) => f.entity === 'users'))
      wholeFile(log, 'file.missing-users', e.app, e.dir, `no users file in ${e.dir}`);
    for (const file of e.unknown) wholeFile(log, 'file.unknown', e.app, file, 'not an entity file; not read');
    for (const file of e.deletions)
      wholeFile(
        log,
        'file.unknown',
        e.app,
        file,
        'tombstones belong to incremental exports (a full one deletes by absence); not read'
      );
    for (const f of e.files) {
      const fileId = writer.addFile(idx, f.entity, f.path);
      const job: FileJob = {
        path: f.path,
        entity: f.entity,
        appName: e.app,
        context: {
          app: idx,
          file: fileId,
          check,
          groupIdPrefix: opts.merge.groupIdPrefix[e.app] ?? '',
          messageIdPrefix: opts.merge.messageIdPrefix[e.app] ?? '',
          multiApp: exports.length > 1,
        },
      };
      const out = {
        row: (params: unknown[]) => writer.insert(f.entity, params),
        reject: (r: RejectInput) => log.add(r),
      };
      const inWorker = fileSize(f.path) >= (opts.workerThresholdBytes ?? WORKER_THRESHOLD_BYTES);
      const read = await (inWorker ? parseLargeFile(job, out) : parseFile(job, out));
      if (read.contentLines === 0) wholeFile(log, 'file.empty', e.app, f.path, 'no records');
      writer.fileDone(fileId, read.contentLines, read.records);
      tracePhase(`load ${f.path}${inWorker ? ' (worker threads)' : ''}`);
      files.push({ app: e.app, entity: f.entity, path: f.path, lines: read.contentLines, records: read.records });
    }
  }
  writer.finish();
  return files;
}

/** References, duplicates, caps and the multi-app merge, in dependency order (users first). */
function checkAcrossRecords(db: Db, log: RejectLog, limits: ZimLimits, multiApp: boolean): void {
  const checks = new ReferentialChecks(db, log, limits);
  tracePhase('indexes');
  checks.duplicateIds('raw_users', 'id', 'user id');
  insertMergedUsers(db);
  checks.usersCap(db.prepare('SELECT count(*) FROM users').pluck().get() as number);
  tracePhase('users');
  checks.groups();
  tracePhase('groups');
  checks.relations('raw_friends', 'friend', limits.maxFriendsPerUser, 'cap.friends');
  tracePhase('friends');
  checks.relations('raw_blocks', 'blocked', limits.maxBlocksPerUser, 'cap.blocks');
  tracePhase('blocks');
  checks.members();
  tracePhase('group members');
  checks.peerMessages();
  if (multiApp) {
    mergeDuplicatePeerMessages(db);
    checks.peerMessageIdCollisions();
  }
  tracePhase('one-to-one messages');
  checks.groupMessages();
  tracePhase('group messages');
  checks.readStates();
  tracePhase('read states');
}

function scanAll(dirs: readonly string[], log: RejectLog): ExportDir[] {
  const exports: ExportDir[] = [];
  for (const dir of dirs) {
    try {
      exports.push(scanExportDir(dir));
    } catch (err) {
      if (!(err instanceof ExportDirError)) throw err;
      log.add({ rule: 'dir.unreadable', app: dir, file: dir, line: null, recordId: null, message: err.message });
    }
  }
  const names = exports.map((e) => e.app);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined)
    throw new UsageError(`two export directories are named ${twice}; apps are named after their directory, rename one`);
  return exports;
}

function entityCounts(db: Db, files: FileSummary[]): Record<Entity, EntityCounts> {
  const out = {} as Record<Entity, EntityCounts>;
  for (const [entity, { table }] of Object.entries(STAGED_COLUMNS) as [Entity, { table: string }][]) {
    const read = files.filter((f) => f.entity === entity).reduce((n, f) => n + f.lines, 0);
    const byStatus = new Map(
      (
        db.prepare(`SELECT status, count(*) AS n FROM ${table} GROUP BY status`).all() as {
          status: number;
          n: number;
        }[]
      ).map((r) => [r.status, r.n])
    );
    const get = (s: number) => byStatus.get(s) ?? 0;
    const staged = [...byStatus.values()].reduce((a, b) => a + b, 0);
    out[entity] = {
      read,
      ok: get(RowStatus.ok),
      expired: get(RowStatus.expired),
      merged: get(RowStatus.merged),
      skipped: get(RowStatus.skipped),
      // Rejected before staging (per-record errors, bad lines) plus rejected by the cross-record checks.
      rejected: read - staged + get(RowStatus.rejected),
    };
  }
  return out;
}

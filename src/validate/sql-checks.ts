/**
 * Checks that need more than one record (references, duplicates, caps) run as SQL over the staged rows.
 * `flag` marks the offending rows, streams one reject per row (file, line and record id come from the
 * row's provenance) and gives them their new status, so memory stays flat however many there are.
 */
import type { RejectLog } from '../import-format/rejects';
import type { RuleId } from '../import-format/rules';
import type { Db } from '../staging/sqlite/database';
import { RowStatus } from '../staging/sqlite/schema';

const FLAGGED = 9;

export type StagedRow = Record<string, unknown> & { app_name: string; file_path: string; line: number };

export interface FlagSpec {
  /** A table with app, file, line and status columns. */
  table: string;
  /** Selects the offending rows; the table is aliased `t`. */
  where: string;
  params?: readonly unknown[];
  /** Only rows with one of these statuses are considered (default: ok and expired). */
  among?: readonly number[];
  rule: RuleId;
  /** The status the flagged rows get (default: rejected). */
  status?: number;
  /** Extra columns for the message, e.g. `(SELECT …) AS kept_at`. */
  extra?: string;
  recordId(row: StagedRow): string;
  message(row: StagedRow): string;
}

export class SqlChecks {
  constructor(
    readonly db: Db,
    private readonly log: RejectLog
  ) {}

  flag(spec: FlagSpec): number {
    const among = (spec.among ?? [RowStatus.ok, RowStatus.expired]).join(', ');
    const marked = this.db
      .prepare(`UPDATE ${spec.table} AS t SET status = ${FLAGGED} WHERE t.status IN (${among}) AND (${spec.where})`)
      .run(...(spec.params ?? [])).changes;
    if (marked === 0) return 0;
    const rows = this.db
      .prepare(
        `SELECT t.*, a.name AS app_name, fl.path AS file_path${spec.extra ? `, ${spec.extra}` : ''}
         FROM ${spec.table} AS t JOIN files fl ON fl.id = t.file JOIN apps a ON a.idx = t.app
         WHERE t.status = ${FLAGGED} ORDER BY t.file, t.line`
      )
      .iterate() as IterableIterator<StagedRow>;
    for (const row of rows)
      this.log.add({
        rule: spec.rule,
        app: row.app_name,
        file: row.file_path,
        line: row.line,
        recordId: spec.recordId(row),
        message: spec.message(row),
      });
    this.db
      .prepare(`UPDATE ${spec.table} SET status = ? WHERE status = ${FLAGGED}`)
      .run(spec.status ?? RowStatus.rejected);
    return marked;
  }

  /** A problem of the merged export as a whole (a plan-wide cap): no file or line to name. */
  exportWide(rule: RuleId, message: string): void {
    this.log.add({ rule, app: '*', file: '*', line: null, recordId: null, message });
  }

  /** Sets a status without reporting (policy, not a problem: e.g. relations of deactivated users). */
  setStatus(table: string, where: string, status: number): number {
    return this.db
      .prepare(`UPDATE ${table} AS t SET status = ? WHERE t.status = ${RowStatus.ok} AND (${where})`)
      .run(status).changes;
  }

  count(sql: string, ...params: unknown[]): number {
    return (
      (this.db
        .prepare(sql)
        .pluck()
        .get(...params) as number | null) ?? 0
    );
  }
}

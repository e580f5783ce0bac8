/**
 * A stage's counts from its children's reports. Each report carries the child's totals and a sequence number, so
 * the stage keeps only the newest report of each child in flight: a duplicate or stale report changes nothing, and
 * a report that replay rebuilt differently from the one sent is replaced by the next (see ChildReport).
 */
import { addCounts, type ChildReport, type Counts } from '../src/shared/workflow-api';

export type LatestReports = Record<string, Pick<ChildReport, 'seq' | 'totals'>>;

export class ChildReports {
  /**
   * @param settled pages done, finished children's final totals, children found complete (mutated in place)
   * @param latest the newest report of each child in flight (mutated in place; carried across continue-as-new)
   */
  constructor(
    private readonly settled: Counts,
    private readonly latest: LatestReports
  ) {}

  /**
   * Counts a report; true when it is the child's final one. The stage passes only reports of children it waits
   * for (a finished child's late duplicates stop at its in-flight check), so a final report is taken whatever its
   * number when `finalWhateverItsSeq` says so: a run reset to its first task (src/worker/stuck-run-repair.ts)
   * numbers its reports from the start again, and when it ends sooner than the run it replaced (a cancel re-applied
   * early), its final report has a number the stage has already seen. Dropped, the stage would wait for it forever.
   */
  take(report: ChildReport, finalWhateverItsSeq: () => boolean = () => false): boolean {
    const stale = (this.latest[report.childId]?.seq ?? 0) >= report.seq;
    if (stale && !(report.finished && finalWhateverItsSeq())) return false;
    if (!report.finished) {
      this.latest[report.childId] = { seq: report.seq, totals: report.totals };
      return false;
    }
    delete this.latest[report.childId];
    addCounts(this.settled, report.totals);
    return true;
  }

  /** Drops what a child reported, before it is started again (it counts every step again from the ledger). */
  forget(childId: string): void {
    delete this.latest[childId];
  }

  /** Settled counts plus each running child's newest report. */
  current(): Counts {
    const counts = { ...this.settled };
    for (const { totals } of Object.values(this.latest)) addCounts(counts, totals);
    return counts;
  }
}

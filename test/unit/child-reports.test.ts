import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChildReports, type LatestReports } from '../../workflows/child-reports';
import { emptyCounts, type ChildReport } from '../../src/shared/workflow-api';

const totals = (done: number, calls = done) => ({ done, failed: 0, skipped: 0, calls });
const report = (childId: string, seq: number, done: number, finished = false): ChildReport => ({
  childId,
  seq,
  totals: totals(done),
  finished,
});

describe('a stage counting its children from their reports', () => {
  it('sums the newest report of each running child and the final totals of finished ones', () => {
    const reports = new ChildReports(emptyCounts(10), {});
    reports.take(report('a', 1, 2));
    reports.take(report('b', 1, 1));
    reports.take(report('a', 2, 4));
    assert.equal(reports.take(report('b', 2, 3, true)), true);
    assert.deepEqual(reports.current(), { planned: 10, done: 7, failed: 0, skipped: 0, calls: 7 });
  });

  it('corrects a report that replay rebuilt differently: the step it counted is not counted twice', () => {
    // Sent live: 5 steps. The child replays and believes it sent 4, so its next report says 9, not 10 minus 1.
    const reports = new ChildReports(emptyCounts(9), {});
    reports.take(report('a', 1, 5));
    reports.take(report('a', 2, 9, true));
    assert.equal(reports.current().done, 9);
  });

  it('ignores duplicate and stale reports', () => {
    const reports = new ChildReports(emptyCounts(6), {});
    reports.take(report('a', 2, 4));
    assert.equal(reports.take(report('a', 1, 2)), false);
    assert.equal(reports.take(report('a', 2, 4)), false);
    assert.equal(reports.take(report('a', 3, 6, true)), true);
    assert.equal(reports.current().done, 6);
  });

  it("takes a reset run's final report though its number was seen (the run replaced sent more), when told to", () => {
    // The run replaced reported 3 times; its reset run, cancelled early, ends with its second report.
    const reports = new ChildReports(emptyCounts(5), {});
    reports.take(report('a', 3, 3));
    assert.equal(reports.take(report('a', 2, 1, true)), false, 'as recorded before the patch: stale');
    assert.equal(reports.take(report('a', 1, 1)), false, "a reset run's early progress report stays stale");
    assert.equal(
      reports.take(report('a', 2, 1, true), () => true),
      true
    );
    assert.equal(reports.current().done, 1, 'its final totals replace what the run replaced reported');
  });

  it('forgets a child before it is started again, which counts its steps anew from the ledger', () => {
    const reports = new ChildReports(emptyCounts(5), {});
    reports.take(report('a', 3, 3));
    reports.forget('a');
    reports.take(report('a', 1, 5, true));
    assert.equal(reports.current().done, 5);
  });

  it('keeps its state in the objects it was given, which the stage carries across continue-as-new', () => {
    const settled = emptyCounts(4);
    const latest: LatestReports = {};
    new ChildReports(settled, latest).take(report('a', 1, 1));
    new ChildReports(settled, latest).take(report('b', 1, 2, true));
    const resumed = new ChildReports(settled, latest);
    resumed.take(report('a', 2, 2, true));
    assert.deepEqual(resumed.current(), { planned: 4, done: 4, failed: 0, skipped: 0, calls: 4 });
  });
});

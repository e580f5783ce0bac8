/**
 * `zim-migrate report --json`'s stages whose plan does not account for their ledger rows (planned = done + failed +
 * skipped + pending once nothing runs), one line each: a migration's report balances, with catch-up rounds too.
 */
export function unbalancedStages(reportJson: string): string[] {
  const { stages } = JSON.parse(reportJson) as {
    stages: { stage: string; planned: number; done: number; failed: number; skipped: number; pending: number }[];
  };
  return stages
    .filter((s) => s.planned !== s.done + s.failed + s.skipped + s.pending)
    .map((s) => `${s.stage}: planned ${s.planned}, ledger ${s.done}+${s.failed}+${s.skipped}+${s.pending}`);
}

/** Whether a coexistence chaos run passed, and the one line it prints. */
import { coexistExact, coexistLine } from '../testing/coexist-traffic';
import type { CoexistChaosResult } from './run-coexist-chaos';
import { faultCounts, n } from './summary';

const plural = (count: number, one: string, many = `${one}s`) => `${n(count)} ${count === 1 ? one : many}`;

/**
 * Settled, compared, every message on the other side exactly once and none mirrored back, nothing parked, and every
 * divergence the audits found repaired.
 */
export function coexistChaosPassed(r: CoexistChaosResult): boolean {
  return (
    r.status === 'completed' &&
    r.check !== undefined &&
    coexistExact(r.check) &&
    (r.sync?.parked ?? 0) === 0 &&
    (r.audit === undefined || r.audit.repaired === r.audit.found)
  );
}

/**
 * e.g. `chaos --coexist: 2 worker kills, 1 receiver kill, 1 server restart; 12 deliveries lost on purpose,
 * 7 divergences found, 7 repaired; 120 messages legacy→ZIM, 120 ZIM→legacy, 0 lost, 0 duplicated, 0 echoed;
 * 3 settled by tail, 1 by echo, 0 parked, lag p99 4.0 s, 9 delivery attempts answered 503; ZIM send faults: ...;
 * 74 s (seed 123)`.
 */
export function coexistChaosSummary(r: CoexistChaosResult): string {
  const kills = [
    plural(r.workerKills, 'worker kill'),
    plural(r.receiverKills, 'receiver kill'),
    plural(r.serverRestarts, 'server restart') +
      (r.longOutages ? ` (${n(r.longOutages)} past the senders' retries)` : ''),
  ];
  if (r.exitsOnTheirOwn > 0) kills.push(`${plural(r.exitsOnTheirOwn, 'exit')} on their own`);
  const parts = [kills.join(', ')];
  if (r.audit)
    parts.push(
      `${plural(r.audit.lostOnPurpose, 'delivery', 'deliveries')} lost on purpose, ` +
        `${plural(r.audit.found, 'divergence')} found, ${n(r.audit.repaired)} repaired`
    );
  if (r.check) {
    const check = [coexistLine(r.check)];
    if (r.status === 'not-settled') check.push('not settled in time');
    parts.push(check.join(', '));
  } else parts.push(`run ${r.status}, not compared`);
  const settled: string[] = [];
  if (r.sync) {
    const s = r.sync;
    settled.push(`${n(s.settledAmbiguously.byTail)} settled by tail`, `${n(s.settledAmbiguously.byEcho)} by echo`);
    settled.push(`${n(s.parked)} parked`);
    if (s.refused > 0) settled.push(`${n(s.refused)} refused`);
    // A measure, not a pass condition: what the kills cost the conversations they held up.
    const p99 = Math.max(s.legacyToZim.lagMs.p99 ?? 0, s.zimToLegacy.lagMs.p99 ?? 0);
    settled.push(`lag p99 ${(p99 / 1000).toFixed(1)} s`);
  }
  // Deliveries Temporal did not take in time (down, or slow under load), each retried by its sender.
  if (r.answered503 > 0) settled.push(`${plural(r.answered503, 'delivery attempt')} answered 503`);
  const dropped = r.dropped.zim + r.dropped.legacy;
  if (dropped > 0) settled.push(`${plural(dropped, 'delivery', 'deliveries')} dropped after the last retry`);
  if (settled.length) parts.push(settled.join(', '));
  const faults = faultCounts(r.faults);
  parts.push(faults.length ? `ZIM send faults: ${faults.join(', ')}` : 'no ZIM faults');
  return `chaos --coexist: ${parts.join('; ')}; ${n(r.seconds)} s (seed ${r.seed})`;
}

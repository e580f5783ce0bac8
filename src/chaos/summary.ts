/** Whether a chaos run passed, and the one line it prints. */
import { isExact } from '../testing/exact-state';
import type { Stall, StallSpread } from './progress-gaps';
import type { FaultKind } from '../zim-emulator/counters';
import type { ChaosResult } from './run-chaos';

/** Exact, finished, and nothing refused. */
export function chaosPassed(r: ChaosResult): boolean {
  return (
    r.status === 'completed' &&
    r.failedRecords === 0 &&
    r.exactness !== undefined &&
    isExact(r.exactness) &&
    (r.finalState ?? []).length === 0
  );
}

export const n = (x: number) => x.toLocaleString('en-US');
const plural = (count: number, one: string, many = `${one}s`) => `${n(count)} ${count === 1 ? one : many}`;

/** The faults the emulator dealt, e.g. `['3 commitThenDrop', '2 http5xx']` (delays left out). */
export function faultCounts(faults: Partial<Record<FaultKind, number>>): string[] {
  return Object.entries(faults)
    .filter(([kind, count]) => count > 0 && kind !== 'delayed')
    .map(([kind, count]) => `${n(count)} ${kind}`);
}

/** e.g. `longest stall 4.2 s after worker kill 2 (group:g7; 31 stalls, median 2.0 s, p90 3.5 s; quiet gaps up to 1.0 s)`. */
function stallText(stall: Stall, spread: StallSpread | undefined, quiet: Stall | undefined): string {
  const all = spread
    ? `; ${plural(spread.count, 'stall')}, median ${spread.p50.toFixed(1)} s, p90 ${spread.p90.toFixed(1)} s`
    : '';
  const baseline = quiet ? `; quiet gaps up to ${quiet.seconds.toFixed(1)} s` : '';
  return `longest stall ${stall.seconds.toFixed(1)} s after ${stall.after ?? 'a disruption'} (${stall.conversation}${all}${baseline})`;
}

/**
 * The one line a run prints, e.g. `chaos: 12 kills, 2 server restarts, 48,210 messages, 0 lost, 0 duplicated (seed=7)`,
 * or with PostgreSQL `chaos: 3 machines on PostgreSQL, 12 machine kills, 2 server restarts, 1 PostgreSQL restart, ...`.
 */
export function chaosSummary(r: ChaosResult): string {
  const faults = faultCounts(r.faults);
  const parts =
    r.staging === 'postgres'
      ? [
          `${plural(r.machines, 'machine')} on PostgreSQL`,
          plural(r.workerKills, 'machine kill'),
          plural(r.serverRestarts, 'server restart'),
          plural(r.postgresRestarts, 'PostgreSQL restart'),
        ]
      : [plural(r.workerKills, 'kill'), plural(r.serverRestarts, 'server restart')];
  if (r.rounds > 1) parts.unshift(`rounds ${n(r.rounds)}`);
  if (r.workerExits > 0) parts.push(plural(r.workerExits, 'worker exit') + ' on its own');
  const e = r.exactness;
  if (!e) parts.push(`migration ${r.status}, not compared`);
  else {
    parts.push(`${n(e.messages)} messages`, `${n(e.lost)} lost`, `${n(e.duplicated)} duplicated`);
    if (e.reordered > 0) parts.push(`${plural(e.reordered, 'conversation')} reordered`);
    const relationsAndGroups =
      e.missingRelations === 0 && e.memberMismatches === 0 && e.users.found === e.users.expected
        ? 'users, relations and groups exact'
        : `users ${n(e.users.found)}/${n(e.users.expected)}, ${n(e.missingRelations)} relations missing, ` +
          `${plural(e.memberMismatches, 'group')} with other members`;
    parts.push(relationsAndGroups);
    if (r.finalState && r.finalState.length > 0) parts.push(`final state differs from the last export`);
    else if (r.finalState) parts.push('final state = last export');
    if (r.status !== 'completed') parts.push(`migration ${r.status}`);
    if (r.failedRecords > 0) parts.push(`${n(r.failedRecords)} records refused`);
  }
  parts.push(faults.length ? `faults: ${faults.join(', ')}` : 'no faults');
  if (r.longestStall) parts.push(stallText(r.longestStall, r.stalls, r.longestQuietGap));
  return `chaos: ${parts.join(', ')}, ${n(r.seconds)} s (seed=${r.seed}, ${n(r.users)} users)`;
}

/**
 * The rounds of a migration as `report` lists them (issue #13): each round's export, state, duration, its ops
 * (planned from the staged work; done, failed, skipped and pending from the ledger, whose round keys start with the
 * round's number), the new messages it planned and the conflicts it left out.
 */
import { formatDuration } from '../shared/format-duration';
import { ROUND_LEDGER_STAGE } from '../shared/rounds';
import type { LedgerStatus, MigrationStore, RoundRecord } from '../staging/migration-store';

export interface RoundReport {
  round: number;
  kind: RoundRecord['kind'];
  exportDir: string;
  state: RoundRecord['state'];
  untilMs: number | null;
  seconds?: number;
  planned: number;
  done: number;
  failed: number;
  skipped: number;
  pending: number;
  messages: number;
  late: number;
}

export async function roundReports(store: MigrationStore): Promise<RoundReport[]> {
  const rounds = await store.rounds();
  if (!rounds.length) return [];
  const byRound = new Map<number, Record<LedgerStatus, number>>();
  for (let after: string | null = null; ;) {
    const rows = await store.readLedger(ROUND_LEDGER_STAGE, after, 1000);
    for (const r of rows) {
      const n = Number(r.key.slice(0, r.key.indexOf('/')));
      const c = byRound.get(n) ?? { pending: 0, done: 0, failed: 0, skipped: 0 };
      c[r.status]++;
      byRound.set(n, c);
    }
    if (rows.length < 1000) break;
    after = rows[rows.length - 1]!.key;
  }
  const out: RoundReport[] = [];
  for (const r of rounds) {
    const work = await store.roundWork(r.round);
    const c = byRound.get(r.round) ?? { pending: 0, done: 0, failed: 0, skipped: 0 };
    out.push({
      round: r.round,
      kind: r.kind,
      exportDir: r.exportDir,
      state: r.state,
      untilMs: r.untilMs,
      ...(r.startedAt !== null && r.finishedAt !== null && { seconds: (r.finishedAt - r.startedAt) / 1000 }),
      planned: work.ops.reduce((n, o) => n + o.items, 0),
      ...c,
      messages: work.fanout['peer-messages'].planned + work.fanout['group-messages'].planned,
      late: r.changes['messages.late'] ?? 0,
    });
  }
  return out;
}

export function renderRoundReports(rounds: RoundReport[]): string[] {
  if (!rounds.length) return [];
  const n = (v: number) => v.toLocaleString('en-US').padStart(9);
  return [
    '',
    'Catch-up rounds:',
    '  round    kind          state       ops planned   done   failed  skipped  pending   messages  conflicts  duration',
    ...rounds.map(
      (r) =>
        `  round ${String(r.round).padEnd(3)}${r.kind.padEnd(14)}${r.state.padEnd(10)}` +
        `${n(r.planned)}${n(r.done)}${n(r.failed)}${n(r.skipped)}${n(r.pending)}${n(r.messages)}${n(r.late)}` +
        `  ${r.seconds !== undefined ? formatDuration(Math.ceil(r.seconds)) : ''}`
    ),
    "  (ops: the round's changes other than messages; messages count in peer-messages and group-messages above;",
    "  conflicts: new messages older than their conversation's newest, not imported: see catch-up --dry-run)",
  ];
}

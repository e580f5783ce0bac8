/** Renders the `progress` query as the table `zim-migrate status` prints. */
import { formatDuration } from '../shared/format-duration';
import { etaNow, type MigrationProgress, type StageProgress } from '../shared/workflow-api';

const BAR = 20;

function bar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR);
  return '█'.repeat(filled) + '░'.repeat(BAR - filled);
}

const n = (x: number) => x.toLocaleString('en-US');

/** A stage that has started and not finished: it has a rate to show. */
export function isUnderWay(s: StageProgress): boolean {
  return s.status === 'running' || s.status === 'paused';
}

/** "19.6/20 calls/s ImportPeerMsg": what was really sent over the rate window, against the budget. */
export function rateText(s: StageProgress): string {
  return s.callsPerSecond !== undefined && isUnderWay(s)
    ? `${s.callsPerSecond.toFixed(1)}/${s.budget ?? '?'} calls/s ${s.action ?? ''}`.trim()
    : '';
}

function stageLine(s: StageProgress): string {
  const settled = s.done + s.failed + s.skipped;
  const fraction = s.planned > 0 ? settled / s.planned : s.status === 'done' ? 1 : 0;
  const rate = rateText(s);
  return [
    s.stage.padEnd(15),
    s.status.padEnd(9),
    bar(fraction),
    `${(fraction * 100).toFixed(0).padStart(3)}%`,
    `${n(settled)}/${n(s.planned)}`.padStart(17),
    s.failed ? `failed ${n(s.failed)}` : '',
    s.skipped ? `skipped ${n(s.skipped)}` : '',
    rate,
  ]
    .filter(Boolean)
    .join('  ');
}

export function renderProgress(p: MigrationProgress, now = Date.now()): string {
  const paused = p.pausedSeconds ? ` (paused ${formatDuration(p.pausedSeconds)})` : '';
  const head = [
    `migration ${p.migrationId}: ${p.status.toUpperCase()}`,
    `elapsed ${formatDuration((now - p.startedAt) / 1000)}${paused}`,
  ];
  const eta = etaNow(p, now);
  if (eta !== undefined) head.push(`ETA ${formatDuration(eta)}`);
  const lines = [head.join('  ·  ')];
  if (p.pausedReason && (p.status === 'paused' || p.status === 'running')) lines.push(`paused: ${p.pausedReason}`);
  lines.push(...p.stages.map(stageLine));
  if (p.rateWindowSeconds !== undefined && p.stages.some((s) => rateText(s) !== ''))
    lines.push(`calls/s: sent over the last ${p.rateWindowSeconds} s (the call schedule); counts: the ledger`);
  return lines.join('\n');
}

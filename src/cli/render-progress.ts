/** Renders the `progress` query as the table `zim-migrate status` prints. */
import type { MigrationProgress, StageProgress } from '../shared/workflow-api';

const BAR = 20;

function bar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR);
  return '█'.repeat(filled) + '░'.repeat(BAR - filled);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

const n = (x: number) => x.toLocaleString('en-US');

function stageLine(s: StageProgress): string {
  const settled = s.done + s.failed + s.skipped;
  const fraction = s.planned > 0 ? settled / s.planned : s.status === 'done' ? 1 : 0;
  const rate =
    s.callsPerSecond !== undefined && s.status === 'running'
      ? `${s.callsPerSecond.toFixed(1)}/${s.budget ?? '?'} calls/s ${s.action ?? ''}`
      : '';
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
  const head = [
    `migration ${p.migrationId}: ${p.status.toUpperCase()}`,
    `running ${formatDuration((now - p.startedAt) / 1000)}`,
  ];
  if (p.etaSeconds !== undefined) head.push(`ETA ${formatDuration(p.etaSeconds)}`);
  const lines = [head.join('  ·  ')];
  if (p.pausedReason && (p.status === 'paused' || p.status === 'running')) lines.push(`paused: ${p.pausedReason}`);
  lines.push(...p.stages.map(stageLine));
  return lines.join('\n');
}

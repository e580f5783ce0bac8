/**
 * What the Temporal UI shows for a migration: the one-line summaries and fixed details set when each workflow starts,
 * and the live progress table (the migration's "current details"). Imported by workflow code: no Node APIs.
 * Ids, stage names and counts only: never message bodies, profile fields or secrets (the UI and the CLI's
 * `temporal workflow metadata` show these to anyone with read access to the namespace).
 */
import type { EntityKind } from '../../workflows/entity-sequence';
import { formatDuration } from './format-duration';
import type { Stage } from './stages';
import type { MigrationProgress, StageProgress } from './workflow-api';

/** The server refuses a summary over 200 bytes; ids are short, but an oversized one must not fail a start. */
const SUMMARY_MAX_BYTES = 200;
const REASON_MAX_CHARS = 200;

interface MigrationStartMetadata {
  staticSummary: string;
  staticDetails: string;
}

/** Summary and details for `client.workflow.start` of the migration workflow. */
export function migrationStartMetadata(o: {
  migrationId: string;
  stagingPath: string;
  stages: readonly Stage[];
}): MigrationStartMetadata {
  return {
    staticSummary: oneLine(`ZIM migration ${o.migrationId}`),
    staticDetails: [
      `Staging: ${code(o.stagingPath)}`,
      '',
      `Stages: ${o.stages.join(' → ')}`,
      '',
      `Live progress: *Current Details* (User Metadata tab), the \`progress\` query, or \`zim-migrate status ${o.migrationId}\`.`,
    ].join('\n'),
  };
}

// Summaries are plain text: the UI's timeline and child lists print them raw, only the User Metadata tab renders
// markdown.

export function stageSummary(migrationId: string, stage: Stage): string {
  return oneLine(`Stage ${stage} of ZIM migration ${migrationId}`);
}

const ENTITY_WORDS: Readonly<Record<EntityKind, (id: string) => string>> = {
  'peer-history': (id) => `One-to-one history of owner ${id}`,
  'group-setup': (id) => `Setup of group ${id}`,
  'group-history': (id) => `History of group ${id}`,
};

export function entitySummary(migrationId: string, kind: EntityKind, entityId: string): string {
  return oneLine(`${ENTITY_WORDS[kind](entityId)} (migration ${migrationId})`);
}

/**
 * A summary as the workflow's current details. Temporal keeps a summary with one run only: continue-as-new (which
 * stages and children do as their histories grow) cannot pass it on, so a continued run shows "No summary" in the
 * UI; every run therefore also states what it is in its current details.
 */
export function summaryDetails(summary: string, continued: boolean): string {
  return `**${escapeMarkdown(summary)}**${continued ? '\n\nContinued from an earlier run (continue-as-new).' : ''}`;
}

/**
 * The `progress` query's answer as markdown: status, elapsed time (and how much of it paused), ETA, pause reason,
 * and per stage its status, planned/done/failed/skipped (the ledger's counts) and the calls per second really sent
 * against its budget. The migration refreshes it with every reading of the ledger (every 5 s while work runs).
 */
export function renderProgressMarkdown(p: MigrationProgress): string {
  const finished = p.stages.filter((s) => s.status === 'done' || s.status === 'cancelled').length;
  const total = p.stages.reduce(
    (t, s) => ({ planned: t.planned + s.planned, settled: t.settled + settled(s), failed: t.failed + s.failed }),
    { planned: 0, settled: 0, failed: 0 }
  );
  const times = [
    p.elapsedSeconds !== undefined &&
      `elapsed ${formatDuration(p.elapsedSeconds)}` +
        (p.pausedSeconds ? ` (paused ${formatDuration(p.pausedSeconds)})` : ''),
    p.etaSeconds !== undefined && `ETA ${formatDuration(p.etaSeconds)}`,
  ].filter(Boolean);
  const lines = [
    `**${p.status.toUpperCase()}** · ${finished} of ${p.stages.length} stages finished · ` +
      `${thousands(total.settled)} of ${thousands(total.planned)} records settled, ${thousands(total.failed)} failed` +
      (times.length ? ` · ${times.join(' · ')}` : ''),
  ];
  if (p.status === 'paused' && p.pausedReason) lines.push('', `**Paused:** ${escapeMarkdown(p.pausedReason)}`);
  lines.push(
    '',
    row(['Stage', 'Status'], ['Planned', 'Done', 'Failed', 'Skipped', 'Calls/s']),
    '| :-- | :-- | --: | --: | --: | --: | --: |',
    ...p.stages.map((s) =>
      row([s.stage, s.status], [...[s.planned, s.done, s.failed, s.skipped].map(thousands), rateCell(s)])
    ),
    '',
    `Counts are the ledger's.` +
      (p.rateWindowSeconds !== undefined && p.stages.some(hasRate)
        ? ` Calls/s: sent over the last ${p.rateWindowSeconds} s / budget, of ` +
          p.stages
            .filter(hasRate)
            .map((s) => `${s.action} (${s.stage})`)
            .join(', ') +
          '.'
        : '') +
      ` Live in a terminal: ${code(`zim-migrate status ${p.migrationId} --watch`)}.`
  );
  return lines.join('\n');
}

/** "19.6/20" for a stage under way (the Actions are named under the table: the UI's panel is narrow). */
function rateCell(s: StageProgress): string {
  if (!hasRate(s)) return '';
  return `${s.callsPerSecond!.toFixed(1)}/${s.budget ?? '?'}`;
}

const hasRate = (s: StageProgress) =>
  s.callsPerSecond !== undefined && (s.status === 'running' || s.status === 'paused');

const PAD = '\u2007';

/**
 * A table row: text columns left-aligned, numbers right-aligned. The UI renders tables without cell padding; a
 * figure space (non-breaking, one digit wide, not trimmed by markdown) keeps neighbouring columns apart.
 */
function row(left: readonly string[], right: readonly string[]): string {
  return `| ${[...left.map((c) => `${c}${PAD}`), ...right.map((c) => `${PAD}${c}`)].join(' | ')} |`;
}

const settled = (s: StageProgress) => s.done + s.failed + s.skipped;

/** 1234567 → "1,234,567" without Intl (workflow sandboxes need not carry locale data). */
export function thousands(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Operator text (a pause reason) as inert single-line markdown. */
export function escapeMarkdown(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const short = flat.length > REASON_MAX_CHARS ? `${flat.slice(0, REASON_MAX_CHARS - 1)}…` : flat;
  return short.replace(/[\\`*_{}[\]()#+!|<>~-]/g, (c) => `\\${c}`);
}

/** A path or id as inline code, so that `_` or `*` in it is not read as emphasis. */
function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

/** One line of at most SUMMARY_MAX_BYTES UTF-8 bytes (cut with "…" when longer). */
export function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (utf8Length(flat) <= SUMMARY_MAX_BYTES) return flat;
  let out = '';
  let bytes = 0;
  for (const ch of flat) {
    bytes += utf8Length(ch);
    if (bytes > SUMMARY_MAX_BYTES - 3) break; // "…" takes 3 bytes
    out += ch;
  }
  return `${out}…`;
}

/** UTF-8 length without TextEncoder (not every workflow sandbox has it). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return bytes;
}

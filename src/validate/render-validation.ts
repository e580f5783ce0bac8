/** The validation summary for people: per-entity counts, then each rule with examples and its fix. */
import { ENTITIES } from '../import-format/schemas';
import type { ValidationResult } from './validate-exports';

const num = (n: number) => n.toLocaleString('en-US');
const count = (n: number, what: string) => `${num(n)} ${what}${n === 1 ? '' : 's'}`;

/**
 * What became of the export, for the last line: `validate` only checks; `plan` stages nothing when there are errors,
 * or with --exclude-errors stages the records without errors.
 */
export type ValidationOutcome = 'checked' | 'not-staged' | 'staged';

export function renderValidation(
  r: ValidationResult,
  rejectsFile: string | null,
  outcome: ValidationOutcome = 'checked'
): string {
  const out: string[] = [];
  const apps = r.apps.map((a) => `${a.name}${r.apps.length > 1 ? ` (rank ${a.rank})` : ''}`).join(', ');
  out.push(`Validated ${apps} in ${(r.elapsedMs / 1000).toFixed(1)}s (as of ${r.asOf})`);
  const head = ['', 'read', 'ok', 'expired', 'merged', 'skipped', 'rejected'];
  const rows = ENTITIES.map((e) => {
    const c = r.entities[e];
    return [e, c.read, c.ok, c.expired, c.merged, c.skipped, c.rejected].map((v) =>
      typeof v === 'number' ? num(v) : v
    );
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  for (const row of [head, ...rows])
    out.push('  ' + row.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  '));
  if (r.merge.apps > 1) {
    const m = r.merge;
    out.push(
      `Merged ${m.apps} apps: ${num(m.usersMerged)} users in several apps, ${num(m.friendsDeduplicated)} friendships, ` +
        `${num(m.blocksDeduplicated)} blocks and ${num(m.peerMessagesDeduplicated)} messages found twice and kept once`
    );
  }
  for (const rule of r.rules) {
    out.push('', `${rule.severity.toUpperCase()} ${rule.rule}: ${num(rule.count)}`);
    for (const ex of rule.examples) {
      const where = ex.line === null ? ex.file : `${ex.file}:${ex.line}`;
      out.push(`    ${where}${ex.recordId ? ` (${ex.recordId})` : ''}: ${ex.message}`);
    }
    if (rule.count > rule.examples.length)
      out.push(`    … ${num(rule.count - rule.examples.length)} more${rejectsFile ? ` in ${rejectsFile}` : ''}`);
    out.push(`    fix: ${rule.examples[0]?.fix ?? ''}`);
  }
  out.push('');
  if (rejectsFile && r.errors + r.warnings > 0) out.push(`Every reject is in ${rejectsFile}.`);
  out.push(
    r.errors > 0
      ? `${count(r.errors, 'error')}, ${count(r.warnings, 'warning')}: ${errorConclusion(r, rejectsFile, outcome)}`
      : `No errors${r.warnings ? `, ${count(r.warnings, 'warning')}` : ''}: the export is importable.`
  );
  return out.join('\n');
}

function errorConclusion(r: ValidationResult, rejectsFile: string | null, outcome: ValidationOutcome): string {
  if (outcome === 'checked') return 'fix the errors and run again.';
  if (outcome === 'not-staged')
    return 'nothing staged; fix the errors and run again, or pass --exclude-errors to stage the records without errors.';
  const leftOut = Object.values(r.entities).reduce((n, c) => n + c.rejected, 0);
  // Errors about a whole file or the export (a missing users file, a plan cap) name no record to leave out.
  const whole = r.rules
    .filter((rule) => rule.severity === 'error' && rule.examples.every((e) => e.line === null))
    .reduce((n, rule) => n + rule.count, 0);
  return (
    `${num(leftOut)} record${leftOut === 1 ? ' with errors was' : 's with errors were'} left out` +
    `${rejectsFile ? ` (listed in ${rejectsFile})` : ''}; staged the rest.` +
    (whole > 0
      ? ` ${count(whole, 'error')} concern${whole === 1 ? 's' : ''} a whole file or the export, not a record: ` +
        'nothing was left out for it (read it above).'
      : '')
  );
}

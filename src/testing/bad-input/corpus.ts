/**
 * A corpus of broken exports with every family of bad input docs/import-format.md lists, each planted at a known
 * file and line among valid records. Validating it answers two questions: is every bad record rejected with its
 * rule at its line, and is every valid record staged (nothing valid dropped)? Used by the broken-exports test and
 * printed as one line by `npm run chaos`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Reject } from '../../import-format/rejects';
import type { RuleId } from '../../import-format/rules';
import type { Entity } from '../../import-format/schemas';
import { validateExports } from '../../validate/validate-exports';
import { CaseBuilder, type CorpusCase } from './case-builder';
import { CASES, CORPUS_AS_OF } from './cases';

export interface BadInputReport {
  cases: number;
  files: number;
  /** Bad records and bad files planted. */
  planted: number;
  /** Of those, reported with their rule at their file and line. */
  rejectedAtLine: number;
  /** Valid records planted, and how many of them were not staged. */
  valid: number;
  validDropped: number;
  /** Rule ids the corpus exercised. */
  rules: RuleId[];
  /** Planted problems not reported as expected, and rejects nobody planted: empty when all is well. */
  differences: string[];
}

export async function runBadInputCorpus(): Promise<BadInputReport> {
  const report: BadInputReport = {
    cases: CASES.length,
    files: 0,
    planted: 0,
    rejectedAtLine: 0,
    valid: 0,
    validDropped: 0,
    rules: [],
    differences: [],
  };
  const root = mkdtempSync(path.join(tmpdir(), 'bad-input-'));
  try {
    for (const [i, c] of CASES.entries()) await runCase(c, path.join(root, String(i)), report);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  report.rules.sort();
  return report;
}

async function runCase(c: CorpusCase, dir: string, report: BadInputReport): Promise<void> {
  const b = new CaseBuilder();
  c.build(b);
  for (const app of b.apps) if (app !== 'missing') mkdirSync(path.join(dir, app), { recursive: true });
  for (const f of b.files)
    writeFileSync(path.join(dir, f.where), Buffer.concat(f.lines.map((l) => Buffer.concat([l, Buffer.from('\n')]))));
  for (const f of b.raw) writeFileSync(path.join(dir, f.where), f.bytes);
  report.files += b.files.length + b.raw.length;

  const rejectsFile = path.join(dir, 'rejects.ndjson');
  const { db, result } = await validateExports({
    dirs: b.apps.map((a) => path.join(dir, a)),
    limits: c.limits,
    asOfMs: CORPUS_AS_OF,
    merge: { prefer: [], groupIdPrefix: {}, messageIdPrefix: {} },
    stagingFile: path.join(dir, 'staging.db'),
    rejectsFile,
  });
  db.close();
  const rejects = readFileSync(rejectsFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Reject);
  const whereOf = (r: Reject) => (r.file === '*' ? '*' : path.relative(dir, r.file));
  const unmatched = [...rejects];
  let extraValid = 0;
  for (const p of b.planted) {
    const i = unmatched.findIndex(
      (r) => r.rule === p.rule && whereOf(r) === p.where && (p.line === -1 ? r.line !== null : r.line === p.line)
    );
    report.planted++;
    if (!report.rules.includes(p.rule)) report.rules.push(p.rule);
    if (i < 0) {
      report.differences.push(`${c.name}: ${p.rule} at ${p.where}:${p.line ?? '-'} was not reported`);
      continue;
    }
    report.rejectedAtLine++;
    // A truncated gzip: the lines before the damage are valid records that must be staged.
    if (p.rule === 'file.gzip-corrupt') extraValid += unmatched[i]!.line! - 1;
    unmatched.splice(i, 1);
  }
  for (const r of unmatched)
    report.differences.push(`${c.name}: unplanted ${r.rule} at ${whereOf(r)}:${r.line ?? '-'}`);

  for (const entity of Object.keys(result.entities) as Entity[]) {
    const n = (b.valid[entity] ?? 0) + (entity === 'peer_messages' ? extraValid : 0);
    report.valid += n;
    const staged = result.entities[entity].ok;
    if (staged < n) {
      report.validDropped += n - staged;
      report.differences.push(`${c.name}: ${entity}: ${staged} of ${n} valid records staged`);
    } else if (staged > n) report.differences.push(`${c.name}: ${entity}: ${staged} staged, only ${n} valid`);
  }
}

/** e.g. `bad input: 31 files, 64 bad records and files rejected with their line (38 rules), 0 valid dropped`. */
export function badInputSummary(r: BadInputReport): string {
  return (
    `bad input: ${r.files} files, ${r.rejectedAtLine}/${r.planted} bad records and files rejected with their ` +
    `rule and line (${r.rules.length} rules), ${r.validDropped} of ${r.valid.toLocaleString('en-US')} valid dropped`
  );
}

/**
 * `npm run bench:catch-up [-- --messages 1000000] [--changed 0.01] [--seed 1] [--incremental]`: a catch-up round's
 * difference at scale (issue #13). Generates an export of N one-to-one messages, stages it as `plan --out` does,
 * writes a later export with a share of every kind of record changed (`gen --evolve --change`), and runs the
 * round's dry run (`catch-up --dry-run`) in a child process: its time (the difference's phase apart) and peak RSS,
 * the changes per kind, the calls per Action of the round, and the calls the changes need, derived from evolve's
 * own record of what it changed. Exits 1 when an Action's calls differ from what its changes need.
 *
 * Data goes to a temporary directory, removed at the end (`--keep` keeps it and prints where).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { CHANGE_KINDS } from '../catch-up/change-kinds';
import { changesInRecord } from '../synthetic/evolve-calls';
import { camelCaseKeys, wholeNumber } from './bench-flags';
import { runCatchUpBench, type CallComparison } from './catch-up-round-calls';
import { loadAverageText } from './process-stats';

const Flags = z.object({
  messages: wholeNumber('--messages', 100),
  changed: z.coerce
    .number({ error: '--changed: a number' })
    .gt(0, '--changed: a share above 0')
    .max(1, '--changed: a share, at most 1'),
  seed: wholeNumber('--seed', 0),
  incremental: z.boolean(),
  keep: z.boolean(),
});

const n = (v: number) => v.toLocaleString('en-US');
const ratio = (r: CallComparison) => (Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : '∞');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '1000000' },
      changed: { type: 'string', default: '0.01' },
      seed: { type: 'string', default: '1' },
      incremental: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const parsed = Flags.safeParse(camelCaseKeys(values));
  if (!parsed.success) {
    console.error(`bench:catch-up: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    process.exit(2);
  }
  const o = parsed.data;
  const dir = mkdtempSync(path.join(tmpdir(), 'zim-bench-catch-up-'));
  console.log(
    `zim-migrate catch-up benchmark, ${new Date().toISOString()}, load average ${loadAverageText()}\n` +
      `${n(o.messages)} one-to-one messages (${n(Math.round(o.messages / 20))} users), ${(o.changed * 100).toFixed(2)}% ` +
      `of each kind of record changed, seed ${o.seed}, ${o.incremental ? 'incremental (delta)' : 'full'} later export`
  );
  try {
    const r = await runCatchUpBench({ dir, ...o });
    const p = r.prepared;
    const d = r.dryRun.plan.difference!;
    console.log(
      `  set-up: generate ${p.seconds.generate.toFixed(1)} s, stage ${p.seconds.stage.toFixed(1)} s, ` +
        `evolve ${p.seconds.evolve.toFixed(1)} s`
    );
    console.log(
      `  catch-up --dry-run: ${r.dryRun.seconds.toFixed(1)} s, peak RSS ${r.dryRun.peakRssMb.toFixed(0)} MB ` +
        `(VmHWM of the child), load average ${loadAverageText()}`
    );
    for (const phase of r.dryRun.phases) console.log(`    ${phase.replaceAll(`${dir}/`, '')}`);
    const made = changesInRecord(p.later.record);
    console.log("  changes per kind: the round's difference, evolve's record (with what closed accounts took along)");
    for (const kind of CHANGE_KINDS)
      console.log(
        `    ${kind.padEnd(22)} ${n(d.changes[kind]).padStart(9)} ${n(made[kind]).padStart(9)}` +
          (d.changes[kind] === made[kind] ? '' : '  ≠')
      );
    console.log("  calls per Action: the round's plan, what the changes need, ratio");
    for (const row of r.planned.rows.filter((x) => x.made || x.needed))
      console.log(
        `    ${row.action.padEnd(26)} ${n(row.made).padStart(9)} ${n(row.needed).padStart(9)}  ${ratio(row)}`
      );
    const sum = (k: 'made' | 'needed') => r.planned.rows.reduce((s, x) => s + x[k], 0);
    console.log(`    ${'all'.padEnd(26)} ${n(sum('made')).padStart(9)} ${n(sum('needed')).padStart(9)}`);
    if (r.planned.mismatches.length) {
      console.log(`  MISMATCH: ${r.planned.mismatches.map((x) => `${x.action} ${x.made} ≠ ${x.needed}`).join(', ')}`);
      process.exitCode = 1;
    } else console.log('  every Action: calls = calls the changes need (1.00)');
    if (o.keep) console.log(`  data kept in ${dir}`);
  } finally {
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

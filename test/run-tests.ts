/**
 * `npm run test:all`: every test file, in two runs of node's test runner.
 *
 * Most integration tests spend their time waiting (Temporal timers, budgets of 20 calls/s, child processes), so two
 * files at a time use a 2-core machine far better than one. A few assert timing itself (budget use ≥ 97%, "too
 * frequent" ≤ 1%, an ETA, a pause taking effect within a grace) or race processes against a deadline; next to
 * another busy file those measure the machine, not the code. They run first, one at a time, as every file did before.
 * A file belongs in ALONE when what it asserts depends on having the machine to itself; the reason is named.
 *
 *   npm run test:all              (both runs; exits non-zero when either fails)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const ALONE: Record<string, string> = {
  'test/integration/live-progress.test.ts': 'a steady ETA and calls/s against the clock',
  'test/integration/migration-orchestration.test.ts':
    'fake activities count calls: a workflow task timed out under load re-runs local activities',
  'test/integration/migration-pg-worker-processes.test.ts': 'the bottleneck budget used fully, "too frequent" ≤ 1%',
  'test/integration/migration-store-engines.test.ts': 'three processes race for claims within a connection timeout',
  'test/integration/pg-call-schedule-processes.test.ts': 'budget use ≥ 97% in every 1-s window, under clock skew',
  'test/integration/call-scheduler-engines.test.ts': 'slot spacing and waits in ms',
  'test/integration/chaos.test.ts': 'kills land at seeded points and progress gaps are timed',
  'test/integration/chaos-coexist.test.ts': 'kills land at seeded points while traffic flows',
};

/**
 * Files run two at a time start in this order: the longest first (seconds in a paired run on 2026-12-07, 580 s in all),
 * then the other integration files, then the unit files, short, last, so that both slots run out of work together
 * instead of one long file running alone at the end. A file that cannot hold its assertions on a busy machine
 * belongs in ALONE, not at the end of this list (extract-sendbird's 429s are injected, not left to its speed).
 */
const LONGEST_FIRST = [
  'test/integration/cli-dev.test.ts', // 110
  'test/integration/catch-up-rounds.test.ts', // 89
  'test/integration/cli-coexist.test.ts', // 79
  'test/integration/cli-migration-control.test.ts', // 55
  'test/integration/catch-up-killed-worker.test.ts', // 50
  'test/integration/catch-up-rounds-postgres.test.ts', // 48
  'test/integration/migration-e2e.test.ts', // 47
  'test/integration/catch-up-budgets.test.ts', // 47
  'test/integration/temporal-ui.test.ts', // 46
  'test/integration/extract-sendbird.test.ts', // 45
  'test/integration/stuck-run-repair.test.ts', // 41
  'test/integration/coexist-batch-failed.test.ts', // 41 alone
  'test/integration/extract-killed-worker.test.ts', // 37
];

const root = path.resolve(__dirname, '..');
const files = ['integration', 'unit'].flatMap((dir) =>
  readdirSync(path.join(root, 'test', dir))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `test/${dir}/${f}`)
);
for (const f of [...Object.keys(ALONE), ...LONGEST_FIRST])
  if (!files.includes(f)) throw new Error(`test/run-tests.ts: ${f} is listed but does not exist`);

const run = (concurrency: number, list: string[]) =>
  spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...list],
    { cwd: root, stdio: 'inherit' }
  ).status ?? 1;

const alone = run(1, Object.keys(ALONE));
const paired = run(2, [...LONGEST_FIRST, ...files.filter((f) => !(f in ALONE) && !LONGEST_FIRST.includes(f))]);
if (alone !== 0 || paired !== 0) {
  console.error(
    `\ntest:all failed: ${[alone !== 0 && 'the files run alone', paired !== 0 && 'the files run two at a time'].filter(Boolean).join(' and ')} (see ✖ above)`
  );
  process.exit(1);
}

/**
 * Benchmark: validate and stage N one-to-one messages with their users (`zim-migrate plan`) in a child
 * process, and report seconds, messages/s and the child's peak RSS. Prints figures; asserts nothing.
 *
 *   npm run bench:plan                 1,000,000 messages (50,000 users)
 *   npm run bench:plan -- 5000000      5,000,000 messages (250,000 users)
 *
 * Datasets are generated once into .bench/ (deterministic, seed 1) and reused.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../shared/project-root';
import { generateExport } from '../synthetic/generate';
import { memoryOf } from './process-stats';

const SAMPLE_MS = 50;
const num = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const messages = Number(process.argv[2] ?? 1_000_000);
  if (!Number.isInteger(messages) || messages <= 0)
    throw new Error(`usage: plan-throughput [messages], got ${process.argv[2]}`);
  const users = Math.max(2, Math.round(messages / 20));
  const benchDir = path.join(projectRoot(), '.bench');
  const dataset = path.join(benchDir, `peer-${messages}`);
  mkdirSync(benchDir, { recursive: true });
  if (!existsSync(path.join(dataset, 'group_messages.ndjson'))) {
    const started = Date.now();
    console.log(`generating ${dataset} (${num(messages)} messages, ${num(users)} users) ...`);
    // A fixed end time keeps the dataset reusable: the run passes --as-of just after it.
    await generateExport({
      out: dataset,
      users,
      seed: 1,
      peerMessages: messages,
      groupMessages: 0,
      endMs: Date.parse('2026-01-01T00:00:00Z'),
    });
    console.log(`generated in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const inputMB =
    ['users', 'friends', 'blocks', 'groups', 'group_members', 'peer_messages']
      .map((e) => statSync(path.join(dataset, `${e}.ndjson`)).size)
      .reduce((a, b) => a + b, 0) / 1e6;

  const out = path.join(benchDir, `staging-${messages}.db`);
  const loadBefore = loadavg()[0]!;
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      path.join(projectRoot(), 'bin', 'zim-migrate.js'),
      'plan',
      dataset,
      '--out',
      out,
      '--force',
      '--json',
      '--as-of',
      '2026-01-02T00:00:00Z',
      '--rejects',
      path.join(benchDir, 'rejects.ndjson'),
    ],
    { env: { ...process.env, ZIM_MIGRATE_TRACE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] }
  );
  let peak = 0;
  const timeline: number[] = [];
  const sampler = setInterval(() => {
    const m = child.pid === undefined ? null : memoryOf(child.pid);
    if (m && m.rssBytes > 0) {
      peak = Math.max(peak, m.peakBytes / 2 ** 20);
      timeline.push(m.rssBytes / 2 ** 20);
    }
  }, SAMPLE_MS);
  let stdout = '';
  let trace = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (trace += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;
  if (code !== 0) throw new Error(`plan exited ${code}:\n${trace}`);

  const result = JSON.parse(stdout) as {
    validation: { files: { records: number }[]; errors: number };
    plan: { counts: { peerMessages: number } };
  };
  const records = result.validation.files.reduce((n, f) => n + f.records, 0);
  const quartiles = [0.25, 0.5, 0.75, 1].map((q) =>
    Math.round(timeline[Math.min(timeline.length - 1, Math.floor(q * (timeline.length - 1)))] ?? 0)
  );
  console.log(
    `plan throughput: ${num(messages)} one-to-one messages, ${num(users)} users, ${num(records)} records in all (${inputMB.toFixed(0)} MB of NDJSON)`
  );
  console.log(`  validate + stage : ${seconds.toFixed(1)} s`);
  console.log(`  throughput       : ${num(messages / seconds)} messages/s, ${num(records / seconds)} records/s`);
  console.log(`  peak RSS         : ${peak.toFixed(0)} MB (VmHWM of the plan process, sampled every ${SAMPLE_MS} ms)`);
  console.log(`  RSS at 25/50/75/100% of the run: ${quartiles.join(' / ')} MB`);
  console.log(
    `  staging file     : ${(statSync(out).size / 1e6).toFixed(0)} MB, ${num(result.plan.counts.peerMessages)} messages staged, ${result.validation.errors} errors`
  );
  console.log(
    `  machine          : ${cpus().length} cores, load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after (shared machine: figures are noisy)`
  );
  console.log('  phases:');
  for (const line of trace.split('\n').filter((l) => l.startsWith('trace '))) console.log(`    ${line.slice(6)}`);
  rmSync(out, { force: true });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

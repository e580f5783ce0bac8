/**
 * `npm run bench:round-staging [-- --messages 100000] [--changed 0.01] [--seed 1]`: the time of staging one catch-up
 * round (issue #13) on each engine for the same data: the earlier export staged as `plan --out` stages it, copied
 * into a local PostgreSQL (`staging copy`), a later export from `gen --evolve`, then `catch-up`'s staging step
 * (validate and stage the later export, the difference, the round written) on the SQLite file and on the
 * postgres:// staging. PostgreSQL pays for its snapshots: one for the difference, one for the round, and the write
 * back. Data goes to a temporary directory, removed at the end.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { stageRound } from '../catch-up/stage-round';
import { copyStaging } from '../staging/copy/copy-staging';
import { camelCaseKeys, wholeNumber } from './bench-flags';
import { withLocalPostgres } from './bench-postgres';
import { prepareCatchUp } from './catch-up-round-calls';
import { loadAverageText } from './process-stats';

const Flags = z.object({
  messages: wholeNumber('--messages', 100),
  changed: z.coerce.number({ error: '--changed: a number' }).gt(0).max(1),
  seed: wholeNumber('--seed', 0),
});

const n = (v: number) => v.toLocaleString('en-US');

async function timed(staging: string, exportDir: string, dir: string, asOfMs: number): Promise<number> {
  const t = Date.now();
  const r = await stageRound({ staging, exportDir, asOfMs, rejectsFile: path.join(dir, 'rejects-round.ndjson') });
  if (r.kind !== 'staged') throw new Error(`the round was not staged (${r.kind})`);
  return (Date.now() - t) / 1000;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '100000' },
      changed: { type: 'string', default: '0.01' },
      seed: { type: 'string', default: '1' },
    },
  });
  const parsed = Flags.safeParse(camelCaseKeys(values));
  if (!parsed.success) {
    console.error(`bench:round-staging: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    process.exit(2);
  }
  const o = parsed.data;
  const dir = mkdtempSync(path.join(tmpdir(), 'zim-bench-round-staging-'));
  try {
    await withLocalPostgres(async (pgUrl) => {
      console.log(
        `zim-migrate round staging, SQLite vs PostgreSQL, ${new Date().toISOString()}, load average ${loadAverageText()}\n` +
          `${n(o.messages)} one-to-one messages, ${(o.changed * 100).toFixed(2)}% of each kind of record changed, seed ${o.seed}`
      );
      const p = await prepareCatchUp({ dir, ...o, incremental: false });
      const twin = path.join(dir, 'twin.sqlite');
      copyFileSync(p.staging, twin);
      const url = `${pgUrl}?schema=bench`;
      const copy = await copyStaging(p.staging, url);
      const asOfMs = p.later.untilMs + 60_000;
      const sqlite = await timed(twin, p.later.dir, dir, asOfMs);
      const postgres = await timed(url, p.later.dir, dir, asOfMs);
      console.log(
        `  staging copy into PostgreSQL (once, before): ${(copy.ms / 1000).toFixed(1)} s\n` +
          `  catch-up round staged on SQLite:     ${sqlite.toFixed(1)} s\n` +
          `  catch-up round staged on PostgreSQL: ${postgres.toFixed(1)} s (${(postgres / sqlite).toFixed(1)}× SQLite)`
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

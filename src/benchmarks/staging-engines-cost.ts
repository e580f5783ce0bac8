/**
 * What the two staging engines cost, in one run (a local throwaway PostgreSQL on loopback): `staging copy` of a
 * synthetic staging SQLite → PostgreSQL → SQLite (rows/s), and per operation on each engine: a ledger claim (and a
 * claim two connections race on), a batch of 20 ledger outcomes, a page of 100 of an owner's messages. Prints figures
 * and asserts nothing.
 *
 *   npm run bench:staging-engines -- [--messages 50000] [--ops 2000]
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ZIM_PLAN_LIMITS } from '../import-format/zim-limits';
import { DEFAULT_RATES } from '../plan/actions';
import { buildPlan } from '../plan/build-plan';
import { startLocalPostgres } from '../postgres/local-postgres';
import { openStaging } from '../staging';
import { copyStaging } from '../staging/copy/copy-staging';
import type { MigrationStore } from '../staging/migration-store';
import { PgMigrationStore } from '../staging/postgres/pg-migration-store';
import { generateExport } from '../synthetic/generate';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '50000' }, ops: { type: 'string', default: '2000' } },
});
const messages = Number(values.messages);
const ops = Number(values.ops);

const mb = (bytes: number) => Math.round(bytes / 1048576);

async function msPer(n: number, run: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await run(-1 - i);
  const start = performance.now();
  for (let i = 0; i < n; i++) await run(i);
  return (performance.now() - start) / n;
}

async function operations(name: string, a: MigrationStore, b: MigrationStore): Promise<void> {
  const owner = (await a.readOwners(null, 1))[0]!.user;
  const claim = await msPer(ops, (i) => a.ledgerClaim('peer-messages', `bench-${name}-${i}`, 't', 45_000));
  const start = performance.now();
  await Promise.all(
    Array.from({ length: ops }, (_, i) =>
      (i % 2 ? a : b).ledgerClaim('group-messages', `race-${Math.floor(i / 2)}`, `t${i % 2}`, 45_000)
    )
  );
  const raced = (performance.now() - start) / ops;
  const put = await msPer(Math.floor(ops / 10), (i) =>
    a.ledgerPut(
      'accounts',
      Array.from({ length: 20 }, (_, k) => ({ key: `put-${i}-${k}`, status: 'done' as const }))
    )
  );
  const page = await msPer(Math.floor(ops / 10), () => a.readOwnerMessages(owner, null, 100));
  console.log(
    `${name.padEnd(10)} claim ${claim.toFixed(3)} ms | racing claims (2 connections) ${raced.toFixed(3)} ms each | ` +
      `ledgerPut of 20 ${put.toFixed(3)} ms | readOwnerMessages page of 100 ${page.toFixed(3)} ms`
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'zim-bench-engines-'));
  const server = await startLocalPostgres();
  try {
    const users = Math.max(100, Math.round(messages / 20));
    await generateExport({ out: path.join(dir, 'export'), users, seed: 3, peerMessages: messages });
    const staged = path.join(dir, 'staged.sqlite');
    await buildPlan({
      dirs: [path.join(dir, 'export')],
      out: staged,
      limits: ZIM_PLAN_LIMITS.enterprise,
      asOfMs: Date.now(),
      merge: { prefer: [], groupIdPrefix: {}, messageIdPrefix: {} },
      rejectsFile: null,
      rates: DEFAULT_RATES,
      excludeErrors: true,
      force: false,
    });
    const env = { ...process.env, ZIM_MIGRATE_DATABASE_PASSWORD: server.password };
    process.env.ZIM_MIGRATE_DATABASE_PASSWORD = server.password;
    const url = `${server.url}?schema=bench`;
    // The copy streams: its peak memory is a few batches, whatever the size (sampled above the heap before it).
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const there = await copyStaging(staged, url, { env });
    const rows = Object.values(there.rows).reduce((x, y) => x + y, 0);
    const back = await copyStaging(url, path.join(dir, 'back.sqlite'), { env });
    clearInterval(sampler);
    console.log(`RSS before the copies ${mb(base)} MB, peak during them ${mb(peak)} MB`);
    console.log(
      `staging copy of ${rows} rows (${there.rows.peer_messages} messages, ${there.rows.peer_copies} copies): ` +
        `SQLite → PostgreSQL ${(there.ms / 1000).toFixed(1)} s (${Math.round(rows / (there.ms / 1000))} rows/s), ` +
        `PostgreSQL → SQLite ${(back.ms / 1000).toFixed(1)} s (${Math.round(rows / (back.ms / 1000))} rows/s)`
    );
    const file = path.join(dir, 'ops.sqlite');
    copyFileSync(staged, file);
    const [la, lb] = [await openStaging(file), await openStaging(file)];
    await operations('SQLite', la, lb);
    await Promise.all([la.close(), lb.close()]);
    const [pa, pb] = [await PgMigrationStore.open(url, {}, env), await PgMigrationStore.open(url, {}, env)];
    await operations('PostgreSQL', pa, pb);
    await Promise.all([pa.close(), pb.close()]);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

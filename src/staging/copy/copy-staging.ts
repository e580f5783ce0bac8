/**
 * `zim-migrate staging copy <from> <to>`: a staged migration, ledger included, from one store to another (a SQLite
 * file or a postgres:// URL, either way). Streams each table in batches (memory stays flat whatever the size),
 * refuses to overwrite a target that holds a staged migration unless forced, and checks every table's row count
 * on both sides before the copy becomes visible. Meant for a migration no worker is running from.
 */
import { isDatabaseUrl, redactIfUrl } from '../../postgres/database-settings';
import { UsageError } from '../../shared/usage-error';
import { pgSource, pgTarget, sqliteSource, sqliteTarget, type CopySource, type CopyTarget } from './endpoints';
import { STAGED_TABLES, type StagedTable } from './staged-tables';

export interface CopyOptions {
  force?: boolean;
  /** Rows per batch read and written. */
  batchRows?: number;
  env?: NodeJS.ProcessEnv;
  /** The tables to copy (default: all of STAGED_TABLES); a round's snapshot leaves the ledger and rounds out. */
  tables?: readonly StagedTable[];
  /** Called after each table with its row count. */
  onTable?: (table: string, rows: number) => void;
}

export interface CopyResult {
  rows: Record<string, number>;
  ms: number;
}

export const DEFAULT_COPY_BATCH_ROWS = 2_000;

export async function copyStaging(from: string, to: string, options: CopyOptions = {}): Promise<CopyResult> {
  const env = options.env ?? process.env;
  const batchRows = options.batchRows ?? DEFAULT_COPY_BATCH_ROWS;
  const tables = options.tables ?? STAGED_TABLES;
  if (from.trim() === to.trim()) throw new UsageError('staging copy: <from> and <to> are the same');
  const started = Date.now();
  let source: CopySource | undefined;
  let target: CopyTarget | undefined;
  try {
    source = isDatabaseUrl(from) ? await pgSource(from, env) : sqliteSource(from);
    target = isDatabaseUrl(to) ? await pgTarget(to, env) : sqliteTarget(to);
    if (!options.force && !(await target.isEmpty()))
      throw new UsageError(
        `${redactIfUrl(to)} already holds a staged migration: pass --force to replace it (its ledger too)`
      );
    await target.begin(options.force ?? false);
    const rows: Record<string, number> = {};
    for (const table of tables) {
      let n = 0;
      for await (const batch of source.rows(table, batchRows)) {
        await target.insert(table, batch);
        n += batch.length;
      }
      rows[table.name] = n;
    }
    await target.finish(await source.state());
    const differ: string[] = [];
    for (const table of tables) {
      const [a, b] = [await source.count(table), await target.count(table)];
      if (a !== b || a !== rows[table.name]) differ.push(`${table.name}: ${a} in the source, ${b} copied`);
    }
    if (differ.length) throw new Error(`staging copy: row counts differ, nothing copied (${differ.join('; ')})`);
    await target.commit();
    for (const table of tables) options.onTable?.(table.name, rows[table.name]!);
    return { rows, ms: Date.now() - started };
  } finally {
    await target?.close();
    await source?.close();
  }
}

/** True when `to` holds no staged migration (what copyStaging checks before it copies without --force). */
export async function stagingTargetEmpty(to: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const target = isDatabaseUrl(to) ? await pgTarget(to, env) : sqliteTarget(to);
  try {
    return await target.isEmpty();
  } finally {
    await target.close();
  }
}

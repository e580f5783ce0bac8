/** Builds small export directories for tests and validates them the way the CLI does. */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Reject } from '../../src/import-format/rejects';
import { ZIM_PLAN_LIMITS, type ZimLimits } from '../../src/import-format/zim-limits';
import type { MergeOptions } from '../../src/merge/merge-apps';
import { validateExports, type ValidationResult } from '../../src/validate/validate-exports';
import { DEFAULT_RATES } from '../../src/plan/actions';
import { buildPlan } from '../../src/plan/build-plan';

/** A line: an object (written as JSON), a string (written as is) or raw bytes. */
export type Line = object | string | Buffer;

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `zim-${prefix}-`));
}

/** Writes `files` (name → lines, or the whole file as bytes) into `dir` and returns it. */
export function writeExport(dir: string, files: Record<string, Line[] | Buffer>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const bytes = Buffer.isBuffer(content)
      ? content
      : Buffer.concat(
          content.map((l) =>
            Buffer.isBuffer(l)
              ? Buffer.concat([l, Buffer.from('\n')])
              : Buffer.from((typeof l === 'string' ? l : JSON.stringify(l)) + '\n')
          )
        );
    writeFileSync(path.join(dir, name), bytes);
  }
  return dir;
}

export const NOW = Date.parse('2026-06-01T00:00:00Z');
export const DAY = 86_400_000;
export const NO_MERGE: MergeOptions = { prefer: [], groupIdPrefix: {}, messageIdPrefix: {} };

export interface Validated {
  result: ValidationResult;
  rejects: Reject[];
}

export async function validate(
  dirs: string[],
  options: { limits?: ZimLimits; merge?: Partial<MergeOptions>; asOfMs?: number; workerThresholdBytes?: number } = {}
): Promise<Validated> {
  const work = tempDir('validate');
  const rejectsFile = path.join(work, 'rejects.ndjson');
  const { db, result } = await validateExports({
    dirs,
    limits: options.limits ?? ZIM_PLAN_LIMITS.pro,
    asOfMs: options.asOfMs ?? NOW,
    merge: { ...NO_MERGE, ...options.merge },
    stagingFile: path.join(work, 'staging.db'),
    rejectsFile,
    workerThresholdBytes: options.workerThresholdBytes,
  });
  db.close();
  const rejects = readFileSync(rejectsFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Reject);
  return { result, rejects };
}

/** `n` users u0..u(n-1). */
export function users(n: number): object[] {
  return Array.from({ length: n }, (_, i) => ({ id: `u${i}`, nickname: `User ${i}` }));
}

export function text(id: string, from: string, to: string, sentAt: number | string, extra: object = {}): object {
  return { id, from, to, sentAt, type: 'text', body: { text: `message ${id}` }, ...extra };
}

/** Stages `dir` into the SQLite file `out` as `plan --out` does (pro plan, "now" = `asOfMs`); it must have no errors. */
export async function stageExport(dir: string, out: string, asOfMs: number): Promise<string> {
  const r = await buildPlan({
    dirs: [dir],
    limits: ZIM_PLAN_LIMITS.pro,
    asOfMs,
    merge: NO_MERGE,
    rejectsFile: null,
    out,
    rates: DEFAULT_RATES,
    excludeErrors: false,
    force: true,
  });
  if (r.validation.errors > 0) throw new Error(`${dir}: ${r.validation.errors} validation errors`);
  return out;
}

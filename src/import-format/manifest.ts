/**
 * `export.json`: what an export directory is, for catch-up rounds (issue #13). Optional: a directory without it
 * is a full export of the app as it was when exported (the only kind before catch-up rounds existed).
 *
 * - `{"kind":"full","until":T}`: every record the app held at T; a record staged earlier and absent here was
 *   deleted in the legacy app.
 * - `{"kind":"incremental","since":S,"until":T}`: only what was created or changed after S up to T (whole
 *   records, keyed like a full export's), plus `deletions.ndjson`: one tombstone per record deleted in that time.
 *   S must be the `until` of the export the migration staged last, so no change falls between two rounds.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { time } from './schemas';
import { toEpochMs } from './time';

export const MANIFEST_FILE = 'export.json';

const until = time.describe('Watermark: the export holds the app as of this time (changes up to it)');

export const exportManifest = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('full'), until: until.optional() }),
    z.strictObject({
      kind: z.literal('incremental'),
      since: time.describe("The watermark this export continues from: the previous export's until"),
      until,
    }),
  ])
  .describe('export.json: whether the directory is a full or an incremental export, and its watermarks');

export type ExportManifest =
  { kind: 'full'; untilMs?: number } | { kind: 'incremental'; sinceMs: number; untilMs: number };

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/** Reads `<dir>/export.json`; null when there is none (a full export). Errors name the file and the fix. */
export function readManifest(dir: string): ExportManifest | null {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ManifestError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`${file} is not JSON (${(err as Error).message}); see docs/import-format.md#exportjson`);
  }
  const parsed = exportManifest.safeParse(json);
  if (!parsed.success)
    throw new ManifestError(
      `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}. ` +
        'Expected {"kind":"full","until":T} or {"kind":"incremental","since":S,"until":T} ' +
        '(docs/import-format.md#exportjson)'
    );
  const m = parsed.data;
  if (m.kind === 'full') return { kind: 'full', ...(m.until !== undefined && { untilMs: toEpochMs(m.until) }) };
  const sinceMs = toEpochMs(m.since);
  const untilMs = toEpochMs(m.until);
  if (untilMs <= sinceMs) throw new ManifestError(`${file}: until (${m.until}) must be after since (${m.since})`);
  return { kind: 'incremental', sinceMs, untilMs };
}

/** Writes a manifest (times as ISO-8601 UTC, readable by people and by readManifest). */
export function renderManifest(m: ExportManifest): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const body =
    m.kind === 'full'
      ? { kind: 'full', ...(m.untilMs !== undefined && { until: iso(m.untilMs) }) }
      : { kind: 'incremental', since: iso(m.sinceMs), until: iso(m.untilMs) };
  return JSON.stringify(body, null, 2) + '\n';
}

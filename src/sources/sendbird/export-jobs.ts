/**
 * The export-jobs route's unit: one Sendbird data export job (a data type over one time window, source-formats.md
 * §1.1 A) created once, polled until done, its file downloaded and unpacked into `.extract/export-jobs/`, which the
 * export-file reader then scans like a directory the user downloaded.
 *
 * Durable in steps: the job's request_id is written to `.extract/raw/export-jobs/<type>-<start>-<end>.json` as soon as Sendbird
 * answers the POST (and before a POST, the app's export list, read once per worker and type, is searched for a job of the same window, so a crash
 * between the POST and that write adopts the job instead of creating a second one); a retry polls that same job. A
 * file link is never stored: it expires, so a refused download asks the job again for a fresh link. The unpacked
 * directory is renamed into place before the unit's done file is written, so a finished download is never fetched
 * again.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { exportJobUnits, type ExportJobUnit } from '../../shared/extract-api';
import { openExportArchive } from '../export-archive';
import { ExtractDir, writeAtomic } from '../extract-dir';
import { downloadFile, SourceHttpError } from '../http-fetch';
import { SendbirdApi } from './api-client';
import type { SbExportJob } from './schemas';
import type { Checkpoint, SendbirdExtractConfig, SourceRuntime } from './units';

export class ExportJobError extends Error {
  override name = 'ExportJobError';
}

/** Where the export-jobs route unpacks its files (read by scanExport as a directory). */
export const exportJobsDir = (outDir: string) => path.join(new ExtractDir(outDir).work, 'export-jobs');

const record = z.object({
  request_id: z.string().min(1),
  data_type: z.string(),
  start_ts: z.number(),
  end_ts: z.number(),
});

export interface ExportJobSummary {
  requestId: string;
  status: string;
  files: number;
  bytes: number;
  /** Downloads refused (expired link) and asked again. */
  refreshedLinks: number;
}

export interface ExportJobCheckpoint {
  requestId: string;
  status: string;
}

const PENDING = new Set(['scheduled', 'exporting']);
const day = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/T00:00:00\.000Z$/, '')
    .replace('.000Z', 'Z');
export const describeJob = (u: ExportJobUnit) => `the ${u.dataType} export ${day(u.startTs)} .. ${day(u.endTs)}`;

export async function exportJob(
  cfg: SendbirdExtractConfig,
  rt: SourceRuntime,
  index: number,
  cp: Checkpoint<ExportJobCheckpoint>
): Promise<ExportJobSummary> {
  const route = cfg.route;
  if (route.kind !== 'export-jobs') throw new Error('this unit runs data export jobs');
  const dir = new ExtractDir(cfg.outDir);
  const unit = exportJobUnits(route)[index];
  if (!unit) throw new Error(`no export job #${index}`);
  // Named by the window, not the index: a rerun with other --from/--to reuses the jobs of the windows it shares.
  const key = `${unit.dataType}-${unit.startTs}-${unit.endTs}`;
  const unitName = `export-job-${key}`;
  const done = dir.done<ExportJobSummary>(unitName);
  if (done) return done;
  if (!rt.apiToken)
    throw new Error('no Sendbird API token in this worker: set SENDBIRD_API_TOKEN or pass --api-token-file');
  const sb = new SendbirdApi({ baseUrl: route.baseUrl, apiToken: rt.apiToken, pacer: rt.pacer, stats: rt.stats });
  const label = describeJob(unit);
  const recordFile = dir.raw(`export-jobs/${key}.json`);
  const listKey = `${route.baseUrl} ${unit.dataType}`;
  const dropList = () => exportLists.get(rt)?.delete(listKey);
  // The job is forgotten (failed, or its file expired): so is the list that may still show it usable.
  const forget = () => {
    rmSync(recordFile, { force: true });
    dropList();
  };

  let requestId = existsSync(recordFile)
    ? record.parse(JSON.parse(readFileSync(recordFile, 'utf8'))).request_id
    : cp.resume?.requestId;
  if (!requestId) {
    requestId = await findJob(rt, sb, listKey, unit);
    if (!requestId) {
      try {
        requestId = await createJob(sb, unit, label);
      } catch (err) {
        // The POST may have taken effect with its answer lost: the retry must read the list again to adopt it.
        dropList();
        throw err;
      }
    }
    writeAtomic(
      recordFile,
      JSON.stringify({ request_id: requestId, data_type: unit.dataType, start_ts: unit.startTs, end_ts: unit.endTs })
    );
  }
  const named = `${label} (Sendbird request_id ${requestId})`;

  let job: SbExportJob;
  for (;;) {
    job = await sb.exportJob(unit.dataType, requestId);
    cp.save({ requestId, status: job.status });
    if (!PENDING.has(job.status) && (job.status !== 'done' || job.file)) break;
    await sleep(route.pollMs);
  }
  if (job.status === 'failed') {
    forget();
    throw new ExportJobError(
      `${named} failed in Sendbird. Run the extraction again: it requests a new job for this window (the failed one is forgotten). If it fails again, ask Sendbird support about this request_id`
    );
  }
  if (job.status === 'no data') {
    const summary: ExportJobSummary = { requestId, status: job.status, files: 0, bytes: 0, refreshedLinks: 0 };
    dir.markDone(unitName, summary);
    return summary;
  }
  if (job.status !== 'done')
    throw new ExportJobError(`${named} ended with the status "${job.status}", which this tool does not know`);

  const tmpFile = dir.tmp(`export-job-${key}.download`);
  // A large file takes longer than the heartbeat timeout to download and unpack: heartbeat meanwhile.
  const beat = setInterval(() => cp.save({ requestId, status: 'downloading' }), 5000);
  let files: number;
  let refreshed = 0;
  let bytes: number;
  try {
    for (;;) {
      const got = await downloadFile(new URL(job.file!.url), tmpFile, { pacer: rt.pacer, stats: rt.stats });
      if (!got.refused) {
        bytes = got.bytes;
        break;
      }
      // An expired or revoked link: ask the job again for a fresh one (never stored, source-formats.md §0.3).
      job = await sb.exportJob(unit.dataType, requestId);
      cp.save({ requestId, status: job.status });
      const fileExpired = job.file?.expires_at != null && job.file.expires_at <= Date.now();
      if (job.status !== 'done' || !job.file || fileExpired) {
        forget();
        throw new ExportJobError(
          `${named}: its file has expired (Sendbird keeps an export's file 7 days after the export). Run the extraction again: it requests a new job for this window`
        );
      }
      if (++refreshed > 5)
        throw new ExportJobError(
          `${named}: the file host refused the download (HTTP ${got.refused}) ${refreshed} times with fresh links. ` +
            "Check that this machine can reach Sendbird's file host and that the token's app has data export enabled (a premium feature)"
        );
    }
    files = await unpack(tmpFile, unit, key, dir, named);
    rmSync(tmpFile, { force: true });
  } finally {
    clearInterval(beat);
  }
  const summary: ExportJobSummary = {
    requestId,
    status: job.status,
    files,
    bytes,
    refreshedLinks: refreshed,
  };
  dir.markDone(unitName, summary);
  return summary;
}

/**
 * The app's export list of one data type, read once per worker and type (not before each job: a run of many windows
 * would read the whole, growing list again for each). Jobs this worker creates later are in their record files, so a
 * stale list misses nothing but a job whose POST answer was lost, or whose status changed: the list is dropped then.
 */
const exportLists = new WeakMap<SourceRuntime, Map<string, Promise<SbExportJob[]>>>();

function exportList(rt: SourceRuntime, sb: SendbirdApi, key: string, dataType: string): Promise<SbExportJob[]> {
  let lists = exportLists.get(rt);
  if (!lists) exportLists.set(rt, (lists = new Map<string, Promise<SbExportJob[]>>()));
  let list = lists.get(key);
  if (!list) {
    list = (async () => {
      const jobs: SbExportJob[] = [];
      let token: string | undefined;
      do {
        const page = await sb.exportJobs(dataType, token);
        jobs.push(...page.exported_data);
        token = page.next ?? undefined;
      } while (token);
      return jobs;
    })();
    lists.set(key, list);
    list.catch(() => lists.get(key) === list && lists.delete(key));
  }
  return list;
}

/** A job of this very window already registered (by an earlier attempt whose answer was lost) and still usable. */
async function findJob(
  rt: SourceRuntime,
  sb: SendbirdApi,
  listKey: string,
  u: ExportJobUnit
): Promise<string | undefined> {
  const hit = (await exportList(rt, sb, listKey, u.dataType)).find(
    (j) =>
      j.start_ts === u.startTs &&
      j.end_ts === u.endTs &&
      (j.format ?? 'json') === 'json' &&
      j.status !== 'failed' &&
      !(j.file?.expires_at != null && j.file.expires_at <= Date.now())
  );
  return hit?.request_id;
}

async function createJob(sb: SendbirdApi, u: ExportJobUnit, label: string): Promise<string> {
  try {
    return (await sb.createExport(u.dataType, u.startTs, u.endTs)).request_id;
  } catch (err) {
    if (!(err instanceof SourceHttpError) || !err.permanent) throw err;
    if (err.status === 401 || err.status === 403)
      throw new ExportJobError(
        `Sendbird refused to create ${label} (HTTP ${err.status}: permission denied). Data export is a premium feature: ` +
          "enable it for the app, and use the app's master API token (or a secondary token allowed to export), in " +
          'SENDBIRD_API_TOKEN or --api-token-file; or extract through the Platform API instead (drop --export-jobs)'
      );
    if (err.status === 400 && /end_ts|start_ts|exceed|range|period/i.test(err.message))
      throw new ExportJobError(
        `Sendbird refused the window of ${label}: ${err.message}. Pass a smaller --window-days (Sendbird allows 7 days per job at most, by some accounts)`
      );
    throw err;
  }
}

/** The download (zip, gzip or plain JSON) into its own directory, renamed into place whole. */
async function unpack(file: string, u: ExportJobUnit, key: string, dir: ExtractDir, named: string) {
  const head = Buffer.alloc(4);
  const fd = openSync(file, 'r');
  const n = readSync(fd, head, 0, 4, 0);
  closeSync(fd);
  const tmpDir = dir.tmp(`export-job-${key}.unpacked`);
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  let files = 0;
  const put = (name: string, bytes: Buffer) => {
    const target = path.resolve(tmpDir, name);
    if (!target.startsWith(tmpDir + path.sep))
      throw new ExportJobError(`${named}: the zip holds the entry "${name}" outside its folder; refused`);
    mkdirSync(path.dirname(target), { recursive: true });
    writeAtomic(target, bytes);
    files++;
  };
  if (n >= 2 && head[0] === 0x50 && head[1] === 0x4b) {
    const arc = await openExportArchive(file);
    try {
      // Entries are written unpacked (.gz members gunzipped by the reader), under their names minus ".gz".
      for (const name of arc.names) put(name.replace(/\.gz$/i, ''), await arc.read(name));
    } finally {
      arc.close();
    }
  } else if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    put(`${u.dataType}.json`, gunzipSync(readFileSync(file)));
  } else if (n >= 1 && (head[0] === 0x7b || head[0] === 0xef)) {
    put(`${u.dataType}.json`, readFileSync(file));
  } else
    throw new ExportJobError(
      `${named}: the downloaded file is neither a zip, gzip nor JSON. Was the export requested as CSV? This tool reads JSON exports`
    );
  const dest = path.join(exportJobsDir(dir.root), key);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(path.dirname(dest), { recursive: true });
  renameSync(tmpDir, dest);
  return files;
}

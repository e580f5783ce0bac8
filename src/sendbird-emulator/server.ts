/**
 * A local Sendbird Platform API for tests and benchmarks (loopback only): the list endpoints the connector reads,
 * with token paging, deactivated users hidden unless active_mode=all, supergroups listed without members, a rate
 * limit answered with 429 and Retry-After, data export jobs (POST /v3/export/{type} over a window, scheduled →
 * exporting → done | failed | no data, listed and read by request_id, each read signing a fresh file link that
 * expires), seeded faults (failed jobs, expired downloads), and counters of every request (tests
 * check that a resumed extraction fetched no finished unit twice).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { exportZip } from './export-files';
import { channelJson, messageJson, MESSAGE_KIND, type Workspace } from './workspace';

export interface SendbirdEmulatorOptions {
  workspace: Workspace;
  apiToken: string;
  port?: number;
  /** Requests per second over all endpoints; 0 = unlimited. */
  rateLimit?: number;
  /** How long an export file URL stays valid. */
  fileUrlTtlMs?: number;
  /** How long an export job takes: `scheduled` for the first half, `exporting` for the second, then done. */
  exportJobMs?: number;
  /** Longest window one messages export may cover (source-formats.md §1.1 A: 7 days to be safe; the old doc said 31). */
  maxExportWindowMs?: number;
  /**
   * Seeded faults: export jobs (1-based creation order) that end `failed`; the first downloads answered 403 expired;
   * every Nth request answered 429 whatever the pace (a test's proof that Retry-After is honoured, which the rate limit
   * alone gives only on a machine fast enough to exceed it).
   */
  faults?: { failExportJobs?: number[]; expireDownloads?: number; tooManyEvery?: number };
  /** The clock of export jobs and file links (ms); a test passes its own to step through them without sleeping. */
  now?: () => number;
}

export const EXPORT_DATA_TYPES = ['messages', 'channels', 'users'] as const;
type ExportDataType = (typeof EXPORT_DATA_TYPES)[number];

interface ExportJob {
  request_id: string;
  dataType: ExportDataType;
  start_ts: number;
  end_ts: number;
  created: number;
  seq: number;
  empty: boolean;
}

export interface SendbirdEmulator {
  url: string;
  stats: EmulatorStats;
  close(): Promise<void>;
}

export interface EmulatorStats {
  requests: number;
  tooMany: number;
  expiredFileUrls: number;
  /** Export jobs created per `data_type start_ts-end_ts` (a resumed extraction must not create a job twice). */
  exportJobsCreated: Map<string, number>;
  /** Export files served whole. */
  exportDownloads: number;
  /** Requests per path and query (without the token), to find repeated fetches. */
  byRequest: Map<string, number>;
}

const encodeToken = (n: number) => Buffer.from(`o:${n}`).toString('base64url');
const decodeToken = (t: string | null) => {
  if (!t) return 0;
  const m = /^o:(\d+)$/.exec(Buffer.from(t, 'base64url').toString());
  return m ? Number(m[1]) : -1;
};

function page<T>(items: T[], q: URLSearchParams): { slice: T[]; next: string } | undefined {
  const offset = decodeToken(q.get('token'));
  if (offset < 0) return undefined;
  const limit = Math.min(100, Math.max(1, Number(q.get('limit') ?? 10)));
  const slice = items.slice(offset, offset + limit);
  return { slice, next: offset + limit < items.length ? encodeToken(offset + limit) : '' };
}

/** First index with ts >= t (or > t when !inclusive). */
function lowerBound(ts: Float64Array, t: number, inclusive: boolean): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (inclusive ? ts[mid]! < t : ts[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export async function startSendbirdEmulator(o: SendbirdEmulatorOptions): Promise<SendbirdEmulator> {
  const ws = o.workspace;
  const stats: EmulatorStats = {
    requests: 0,
    tooMany: 0,
    expiredFileUrls: 0,
    exportJobsCreated: new Map(),
    exportDownloads: 0,
    byRequest: new Map(),
  };
  const channelByUrl = new Map(ws.channels.map((c) => [c.channel_url, c]));
  const userIndex = new Map(ws.users.map((u, i) => [u.user_id, i]));
  const exports = new Map<string, ExportJob>();
  const zips = new Map<string, Promise<Buffer>>();
  const clock = o.now ?? Date.now;
  const jobMs = o.exportJobMs ?? 1000;
  const maxWindow = o.maxExportWindowMs ?? 7 * 86_400_000;
  const failing = new Set(o.faults?.failExportJobs ?? []);
  let expireDownloads = o.faults?.expireDownloads ?? 0;
  const secret = randomBytes(16);
  const sign = (id: string, expires: number) =>
    createHmac('sha256', secret).update(`${id}:${expires}`).digest('base64url');
  const jobStatus = (j: ExportJob) => {
    const age = clock() - j.created;
    if (age < jobMs / 2) return 'scheduled';
    if (age < jobMs) return 'exporting';
    return failing.has(j.seq) ? 'failed' : j.empty ? 'no data' : 'done';
  };
  // The export resource as Sendbird lists it; a done job's file link is signed afresh on every read (ttl from then).
  const jobJson = (j: ExportJob) => {
    const status = jobStatus(j);
    const expires = clock() + ttl;
    return {
      request_id: j.request_id,
      status,
      data_type: j.dataType,
      format: 'json',
      timezone: 'UTC',
      created_at: j.created,
      start_ts: j.start_ts,
      end_ts: j.end_ts,
      channel_urls: [],
      sender_ids: [],
      user_ids: [],
      ...(status === 'done'
        ? {
            file: {
              url: `${base}/_export-files/${j.request_id}.zip?expires=${expires}&sig=${sign(j.request_id, expires)}`,
              expires_at: expires,
            },
          }
        : {}),
    };
  };
  const isEmpty = (t: ExportDataType, start: number, end: number) => {
    const inside = (ms: number) => ms >= start && ms < end;
    if (t === 'users') return !ws.users.some((u) => inside(u.created_at * 1000));
    if (t === 'channels') return !ws.channels.some((c) => inside(c.created_at * 1000));
    return !ws.channels.some((c) => c.ts.some(inside));
  };
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => resolve(body));
      req.on('error', reject);
    });
  let nextSlot = 0; // GCRA: the earliest time the next request is allowed
  const ttl = o.fileUrlTtlMs ?? 60_000;
  let exportSeq = 0;
  let base = '';

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, code: number, message: string) =>
    send(res, status, { error: true, code, message });
  /** Sendbird's answer to a request over the limit: Retry-After in whole seconds, its own header in fractions. */
  const tooMany = (res: ServerResponse, waitSeconds: number) => {
    stats.tooMany++;
    send(
      res,
      429,
      { error: true, code: 500910, message: 'Too many requests.' },
      {
        'retry-after': String(Math.ceil(waitSeconds)),
        'x-ratelimit-retryafter': waitSeconds.toFixed(3),
      }
    );
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams;
    if (url.pathname === '/_emulator/stats')
      return send(res, 200, {
        requests: stats.requests,
        tooMany: stats.tooMany,
        expiredFileUrls: stats.expiredFileUrls,
        exportJobsCreated: Object.fromEntries(stats.exportJobsCreated),
        exportDownloads: stats.exportDownloads,
      });
    stats.requests++;
    const tooManyEvery = o.faults?.tooManyEvery;
    if (tooManyEvery && stats.requests % tooManyEvery === 0) return tooMany(res, 0.05);
    if (o.rateLimit) {
      const now = Date.now();
      const interval = 1000 / o.rateLimit;
      // A burst of a tenth of a second's budget absorbs network jitter, as a real per-second limit does.
      const burst = Math.max(1, o.rateLimit / 10) * interval;
      if (nextSlot - now > burst) return tooMany(res, (nextSlot - now - burst) / 1000);
      nextSlot = Math.max(nextSlot, now) + interval;
    }
    const key = `${req.method} ${url.pathname}?${[...q]
      .filter(([k]) => k !== 'sig')
      .map(([k, v]) => `${k}=${v}`)
      .join('&')}`;
    stats.byRequest.set(key, (stats.byRequest.get(key) ?? 0) + 1);

    const file = /^\/_export-files\/([\w-]+)\.zip$/.exec(url.pathname);
    if (file) {
      const job = exports.get(file[1]!);
      if (!job || jobStatus(job) !== 'done') return error(res, 404, 400201, 'no such file');
      const expires = Number(q.get('expires'));
      // A signed link, as S3's: a changed expiry breaks the signature; both answer 403 as S3 does.
      if (q.get('sig') !== sign(job.request_id, expires)) return error(res, 403, 400108, 'Signature mismatch.');
      if (clock() > expires || expireDownloads > 0) {
        if (expireDownloads > 0) expireDownloads--;
        stats.expiredFileUrls++;
        return error(res, 403, 400108, 'The file URL has expired.');
      }
      let zip = zips.get(job.request_id);
      if (!zip) {
        zip = exportZip(ws, { dataType: job.dataType, startMs: job.start_ts, endMs: job.end_ts });
        zips.set(job.request_id, zip);
      }
      stats.exportDownloads++;
      void zip.then((buf) => {
        res.writeHead(200, { 'content-type': 'application/zip', 'content-length': String(buf.length) });
        res.end(buf);
      });
      return;
    }
    if (req.headers['api-token'] !== o.apiToken) return error(res, 401, 400401, 'Invalid value: "Api-Token".');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'v3') return error(res, 404, 400301, 'not found');
    const [, a, b, c] = parts;

    if (a === 'export' && b) {
      if (!(EXPORT_DATA_TYPES as readonly string[]).includes(b))
        return error(res, 400, 400151, `Invalid value: "data_type" (${b}): one of ${EXPORT_DATA_TYPES.join(', ')}`);
      const dataType = b as ExportDataType;
      if (!c && req.method === 'POST') {
        void readBody(req).then((text) => {
          let body: { start_ts?: unknown; end_ts?: unknown; format?: unknown };
          try {
            body = JSON.parse(text) as typeof body;
          } catch {
            return error(res, 400, 400403, 'Invalid JSON request body.');
          }
          const { start_ts: start, end_ts: end } = body;
          if (typeof start !== 'number' || typeof end !== 'number' || !(end > start))
            return error(res, 400, 400111, '"start_ts" and "end_ts" are required, in Unix ms, start before end.');
          if (dataType === 'messages' && end - start > maxWindow)
            return error(res, 400, 400111, `Invalid value: "end_ts - start_ts" exceeds ${maxWindow} ms.`);
          if (body.format !== undefined && body.format !== 'json' && body.format !== 'csv')
            return error(res, 400, 400111, 'Invalid value: "format".');
          const seq = ++exportSeq;
          const job: ExportJob = {
            request_id: `${dataType}-${seq}-${randomBytes(4).toString('hex')}`,
            dataType,
            start_ts: start,
            end_ts: end,
            created: clock(),
            seq,
            empty: isEmpty(dataType, start, end),
          };
          exports.set(job.request_id, job);
          const key = `${dataType} ${start}-${end}`;
          stats.exportJobsCreated.set(key, (stats.exportJobsCreated.get(key) ?? 0) + 1);
          send(res, 200, jobJson(job));
        });
        return;
      }
      if (req.method !== 'GET') return error(res, 405, 400301, 'method not allowed');
      if (c) {
        const job = exports.get(c);
        if (!job || job.dataType !== dataType) return error(res, 400, 400201, `Export not found: ${c}`);
        return send(res, 200, jobJson(job));
      }
      const p = page(
        [...exports.values()].filter((j) => j.dataType === dataType),
        q
      );
      if (!p) return error(res, 400, 400111, 'invalid token');
      return send(res, 200, { exported_data: p.slice.map(jobJson), next: p.next });
    }
    if (req.method !== 'GET') return error(res, 405, 400301, 'method not allowed');

    if (a === 'users' && !b) {
      const mode = q.get('active_mode') ?? 'activated';
      const users = ws.users.filter((u) => mode === 'all' || (mode === 'deactivated' ? !u.is_active : u.is_active));
      const p = page(users, q);
      if (!p) return error(res, 400, 400111, 'invalid token');
      return send(res, 200, { users: p.slice, next: p.next });
    }
    if (a === 'users' && b && c === 'block') {
      const i = userIndex.get(b);
      if (i === undefined) return error(res, 400, 400201, 'user not found');
      const blocked = (ws.blocks.get(i) ?? []).map((j) => ({
        user_id: ws.users[j]!.user_id,
        nickname: ws.users[j]!.nickname,
      }));
      const p = page(blocked, q);
      if (!p) return error(res, 400, 400111, 'invalid token');
      return send(res, 200, { users: p.slice, next: p.next });
    }
    if (a === 'open_channels' && !b) {
      const p = page(ws.openChannels, q);
      if (!p) return error(res, 400, 400111, 'invalid token');
      return send(res, 200, { channels: p.slice, next: p.next });
    }
    if (a === 'group_channels' && !b) {
      const p = page(ws.channels, q);
      if (!p) return error(res, 400, 400111, 'invalid token');
      const show = q.get('show_member') === 'true';
      const receipts = q.get('show_read_receipt') === 'true';
      // Supergroups are listed without their members (page the members endpoint) and without read receipts.
      return send(res, 200, {
        channels: p.slice.map((ch) => channelJson(ws, ch, show && !ch.is_super, receipts)),
        next: p.next,
      });
    }
    if (a === 'group_channels' && b) {
      const ch = channelByUrl.get(b);
      if (!ch) return error(res, 400, 400201, `channel not found: ${b}`);
      if (c === 'members') {
        const ops = new Set(ch.operators);
        const p = page(ch.members, q);
        if (!p) return error(res, 400, 400111, 'invalid token');
        return send(res, 200, {
          members: p.slice.map((m) => ({
            user_id: ws.users[m]!.user_id,
            nickname: ws.users[m]!.nickname,
            state: 'joined',
            role: ops.has(m) ? 'operator' : '',
          })),
          next: p.next,
        });
      }
      if (c === 'operators') {
        const p = page(ch.operators, q);
        if (!p) return error(res, 400, 400111, 'invalid token');
        return send(res, 200, { operators: p.slice.map((m) => ({ user_id: ws.users[m]!.user_id })), next: p.next });
      }
      if (c === 'messages') {
        const ts = Number(q.get('message_ts'));
        if (!Number.isFinite(ts)) return error(res, 400, 400110, 'message_ts is required');
        const limit = Math.min(200, Math.max(0, Number(q.get('next_limit') ?? 15)));
        const removed = q.get('including_removed') === 'true';
        const out: unknown[] = [];
        for (let i = lowerBound(ch.ts, ts, q.get('include') !== 'false'); i < ch.ts.length && out.length < limit; i++) {
          if (!removed && ch.kind[i] === MESSAGE_KIND.removed) continue;
          out.push(messageJson(ws, ch, i));
        }
        return send(res, 200, { messages: out });
      }
    }
    return error(res, 404, 400301, `not found: ${url.pathname}`);
  };

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      error(res, 500, 500901, (err as Error).message);
    }
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A local Sendbird Platform API for tests and benchmarks (loopback only): the list endpoints the connector reads,
 * with token paging, deactivated users hidden unless active_mode=all, supergroups listed without members, a rate
 * limit answered with 429 and Retry-After, export jobs whose file URLs expire, and counters of every request (tests
 * check that a resumed extraction fetched no finished unit twice).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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
  const stats: EmulatorStats = { requests: 0, tooMany: 0, expiredFileUrls: 0, byRequest: new Map() };
  const channelByUrl = new Map(ws.channels.map((c) => [c.channel_url, c]));
  const userIndex = new Map(ws.users.map((u, i) => [u.user_id, i]));
  const exports = new Map<string, { type: string; created: number }>();
  let zip: Promise<Buffer> | undefined;
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

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams;
    if (url.pathname === '/_emulator/stats')
      return send(res, 200, {
        requests: stats.requests,
        tooMany: stats.tooMany,
        expiredFileUrls: stats.expiredFileUrls,
      });
    stats.requests++;
    if (o.rateLimit) {
      const now = Date.now();
      const interval = 1000 / o.rateLimit;
      // A burst of a tenth of a second's budget absorbs network jitter, as a real per-second limit does.
      const burst = Math.max(1, o.rateLimit / 10) * interval;
      if (nextSlot - now > burst) {
        stats.tooMany++;
        const wait = (nextSlot - now - burst) / 1000;
        res.writeHead(429, {
          'content-type': 'application/json',
          'retry-after': String(Math.ceil(wait)),
          'x-ratelimit-retryafter': wait.toFixed(3),
        });
        return res.end(JSON.stringify({ error: true, code: 500910, message: 'Too many requests.' }));
      }
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
      if (!job) return error(res, 404, 400201, 'no such file');
      if (Date.now() > Number(q.get('expires'))) {
        stats.expiredFileUrls++;
        return error(res, 403, 400108, 'The file URL has expired.');
      }
      zip ??= exportZip(ws);
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

    if (a === 'export' && b && !c && req.method === 'POST') {
      const id = `job${++exportSeq}`;
      exports.set(id, { type: b, created: Date.now() });
      return send(res, 200, { request_id: id, status: 'done', data_type: b, format: 'json' });
    }
    if (a === 'export' && b && c && req.method === 'GET') {
      if (!exports.has(c)) return error(res, 404, 400201, 'no such export');
      // Every read hands out a fresh link; each expires ttl after it was handed out.
      const expires = Date.now() + ttl;
      return send(res, 200, {
        request_id: c,
        status: 'done',
        file: { url: `${base}/_export-files/${c}.zip?expires=${expires}`, expires_at: expires },
      });
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

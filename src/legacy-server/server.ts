/**
 * The reference legacy chat server: the legacy side of every coexistence test and rehearsal, and an example for a
 * customer writing their own adapter (docs/coexistence.md §1). Loopback HTTP:
 *   /v1/...     the contract's write and read API, Bearer-token authenticated;
 *   /_test/...  for tests: users, acting as an App 1.0 user, the full state, webhook settings and deliveries.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import {
  LegacyCreateGroupSchema,
  LegacyDismissSchema,
  LegacyGroupProfileSchema,
  LegacyMembersChangeSchema,
  LegacySendRequestSchema,
  type LegacyCapabilities,
} from '../coexist/legacy-contract';
import { LegacyRefusal, LegacyStore, type EchoFields } from './store';
import { WebhookDispatcher, type WebhookOptions } from './webhook';

export interface LegacyServerOptions {
  port?: number;
  host?: string;
  /** The token /v1 callers must present. */
  apiToken: string;
  /** The routing webhook's shared secret. */
  webhookSecret: string;
  webhookUrl?: string | undefined;
  /** What routing events return for our writes; none at all makes a non-conforming adapter (for the refusal test). */
  echo?: EchoFields;
  retryDelaysMs?: number[];
  attemptTimeoutMs?: number;
  duplicateRate?: number;
  reorderRate?: number;
  reorderDelayMs?: number;
  /** Whether GET /v1/users/{id}/conversations is offered (default true), for the audit without it. */
  conversationList?: boolean;
  /** Share of routing events lost outright (seeded), for the reconciliation audit to recover. */
  lossRate?: number;
  seed?: number;
}

export interface LegacyServer {
  url: string;
  store: LegacyStore;
  webhook: WebhookDispatcher;
  close(): Promise<void>;
}

const UsersSchema = z.object({ users: z.array(z.string().min(1)).min(1) });
const WebhookPatchSchema = z.object({
  url: z.string().url().nullable().optional(),
  duplicateRate: z.number().min(0).max(1).optional(),
  reorderRate: z.number().min(0).max(1).optional(),
  reorderDelayMs: z.number().int().nonnegative().max(60_000).optional(),
  lossRate: z.number().min(0).max(1).optional(),
  seed: z.number().int().optional(),
  retryDelaysMs: z.array(z.number().int().nonnegative()).max(20).optional(),
});
/** An App 1.0 user's own send: no originTag, no clientMsgId. */
const App1SendSchema = z
  .object({
    from: z.string().min(1),
    to: z.string().min(1).optional(),
    groupId: z.string().min(1).optional(),
    body: z.string(),
  })
  .refine((r) => (r.to === undefined) !== (r.groupId === undefined), 'give exactly one of `to` and `groupId`');

const App1GroupChangeSchema = z.object({
  operator: z.string().min(1),
  /** join/leave: the users (default: the operator themselves). */
  users: z.array(z.string().min(1)).min(1).optional(),
  name: z.string().max(256).optional(),
  notice: z.string().max(1024).optional(),
});

const MAX_BODY = 1 << 20;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new LegacyRefusal(413, 'body too large');
    chunks.push(c);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new LegacyRefusal(400, 'body is not JSON');
  }
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new LegacyRefusal(400, r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return r.data;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function startLegacyServer(options: LegacyServerOptions): Promise<LegacyServer> {
  const echo = options.echo ?? { originTag: true, clientMsgId: true };
  const webhookOptions: WebhookOptions = {
    url: options.webhookUrl,
    secret: options.webhookSecret,
    retryDelaysMs: options.retryDelaysMs ?? [1_000, 2_000, 4_000, 8_000, 16_000],
    attemptTimeoutMs: options.attemptTimeoutMs ?? 5_000,
    duplicateRate: options.duplicateRate ?? 0,
    reorderRate: options.reorderRate ?? 0,
    reorderDelayMs: options.reorderDelayMs ?? 200,
    lossRate: options.lossRate ?? 0,
    seed: options.seed ?? 1,
  };
  const webhook = new WebhookDispatcher(webhookOptions);
  const store = new LegacyStore(echo, (e) => webhook.emit(e));
  const token = Buffer.from(`Bearer ${options.apiToken}`);
  const capabilities: LegacyCapabilities = {
    contractVersion: 1,
    echoIdentification: echo,
    groupState: true,
    groupProfile: true,
    conversationList: options.conversationList ?? true,
  };

  const authorized = (req: IncomingMessage) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === token.length && timingSafeEqual(given, token);
  };

  async function route(req: IncomingMessage, url: URL): Promise<[number, unknown]> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path.startsWith('/v1/')) {
      if (!authorized(req)) return [401, { error: 'unauthorized' }];
      if (method === 'GET' && path === '/v1/capabilities') return [200, capabilities];
      if (method === 'POST' && path === '/v1/messages')
        return [200, { message: store.send(parse(LegacySendRequestSchema, await readJson(req))) }];
      const page = /^\/v1\/conversations\/([^/]+)\/messages$/.exec(path);
      if (method === 'GET' && page) {
        const afterSeq = Number(url.searchParams.get('afterSeq') ?? '0');
        const limit = Math.min(Number(url.searchParams.get('limit') ?? '100'), 1000);
        if (!Number.isInteger(afterSeq) || afterSeq < 0 || !Number.isInteger(limit) || limit < 1)
          return [400, { error: 'afterSeq and limit must be non-negative integers' }];
        return [200, store.page(decodeURIComponent(page[1]!), afterSeq, limit)];
      }
      const listing = /^\/v1\/users\/([^/]+)\/conversations$/.exec(path);
      if (method === 'GET' && listing && capabilities.conversationList) {
        const since = Number(url.searchParams.get('since') ?? '0');
        const limit = Math.min(Number(url.searchParams.get('limit') ?? '100'), 1000);
        if (!Number.isInteger(since) || since < 0 || !Number.isInteger(limit) || limit < 1)
          return [400, { error: 'since and limit must be non-negative integers' }];
        const cursor = url.searchParams.get('cursor') ?? undefined;
        return [200, store.userConversations(decodeURIComponent(listing[1]!), since, limit, cursor)];
      }
      if (method === 'POST' && path === '/v1/groups') {
        const r = parse(LegacyCreateGroupSchema, await readJson(req));
        store.createGroup(r);
        return [200, {}];
      }
      const members = /^\/v1\/groups\/([^/]+)\/members(\/remove)?$/.exec(path);
      if (method === 'POST' && members) {
        const r = parse(LegacyMembersChangeSchema, await readJson(req));
        const gid = decodeURIComponent(members[1]!);
        if (members[2]) store.leave(gid, r.operator, r.users);
        else store.join(gid, r.operator, r.users);
        return [200, {}];
      }
      // Convergent: the same profile again changes nothing and posts no routing event.
      const profile = /^\/v1\/groups\/([^/]+)\/profile$/.exec(path);
      if (method === 'POST' && profile) {
        const { operator, ...fields } = parse(LegacyGroupProfileSchema, await readJson(req));
        store.change(decodeURIComponent(profile[1]!), operator, fields);
        return [200, {}];
      }
      const group = /^\/v1\/groups\/([^/]+)$/.exec(path);
      if (method === 'GET' && group) return [200, { group: store.group(decodeURIComponent(group[1]!)) }];
      if (method === 'DELETE' && group) {
        store.dismiss(decodeURIComponent(group[1]!), parse(LegacyDismissSchema, await readJson(req)).operator);
        return [200, {}];
      }
      return [404, { error: 'no such route' }];
    }
    if (method === 'POST' && path === '/_test/users') {
      store.addUsers(parse(UsersSchema, await readJson(req)).users);
      return [200, {}];
    }
    if (method === 'POST' && path === '/_test/app1/send')
      return [200, { message: store.send(parse(App1SendSchema, await readJson(req))) }];
    if (method === 'POST' && path === '/_test/app1/createGroup') {
      store.createGroup(parse(LegacyCreateGroupSchema, await readJson(req)));
      return [200, {}];
    }
    // An App 1.0 user's own group changes (no origin tag): join, leave, change the profile, dismiss.
    const app1 = /^\/_test\/app1\/groups\/([^/]+)\/(join|leave|change|dismiss)$/.exec(path);
    if (method === 'POST' && app1) {
      const gid = decodeURIComponent(app1[1]!);
      const r = parse(App1GroupChangeSchema, await readJson(req));
      if (app1[2] === 'join') store.join(gid, r.operator, r.users ?? [r.operator]);
      else if (app1[2] === 'leave') store.leave(gid, r.operator, r.users ?? [r.operator]);
      else if (app1[2] === 'change') store.change(gid, r.operator, r);
      else store.dismiss(gid, r.operator);
      return [200, {}];
    }
    if (method === 'GET' && path === '/_test/state') return [200, store.snapshot()];
    if (method === 'GET' && path === '/_test/deliveries') return [200, { deliveries: webhook.log }];
    if (method === 'POST' && path === '/_test/webhook') {
      const p = parse(WebhookPatchSchema, await readJson(req));
      webhook.configure({
        ...(p.url !== undefined ? { url: p.url ?? undefined } : {}),
        ...(p.duplicateRate !== undefined ? { duplicateRate: p.duplicateRate } : {}),
        ...(p.reorderRate !== undefined ? { reorderRate: p.reorderRate } : {}),
        ...(p.reorderDelayMs !== undefined ? { reorderDelayMs: p.reorderDelayMs } : {}),
        ...(p.lossRate !== undefined ? { lossRate: p.lossRate } : {}),
        ...(p.seed !== undefined ? { seed: p.seed } : {}),
        ...(p.retryDelaysMs !== undefined ? { retryDelaysMs: p.retryDelaysMs } : {}),
      });
      return [200, {}];
    }
    return [404, { error: 'no such route' }];
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    route(req, url).then(
      ([status, body]) => send(res, status, body),
      (e: unknown) => {
        if (e instanceof LegacyRefusal) send(res, e.status, { error: e.message });
        else send(res, 500, { error: 'internal error' });
      }
    );
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    store,
    webhook,
    async close() {
      webhook.stop();
      await webhook.idle();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

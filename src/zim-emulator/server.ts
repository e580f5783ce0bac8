/**
 * The emulator's HTTP server (Node's http module: 5,000–12,800 requests/s measured on a shared 2-core machine, see
 * docs/zim-emulator.md). It speaks ZIM's wire protocol on `/?Action=...`, applies transport faults (latency, resets,
 * 5xx, commit-then-drop) around EmulatorCore, and serves the introspection API under /_emulator/.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQuery } from 'node:querystring';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZIM_ACTIONS } from '../zim-client/actions';
import { ZimCode } from '../zim-client/codes';
import {
  describeIssues,
  EmulatorOptionsSchema,
  type ConfigPatch,
  type EmulatorOptions,
  type Faults,
  type FaultsInput,
} from './config';
import type { CallbacksPatch } from './callback-config';
import type { DeliveryOutcome, DeliveryRecord } from './callback-dispatcher';
import { EmulatorCore, type PublicConfig } from './core';
import type { CountersSnapshot } from './counters';
import { routeAction } from './gateway';
import { INTROSPECTION_PREFIX, Inspector, routeIntrospection } from './introspection';
import { Refusal, type Reply } from './rules';

export interface ZimEmulator {
  /** Base URL for ZimClient, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly appId: number;
  /** Stored state, read in-process (the same data as GET /_emulator/...). */
  readonly inspect: Inspector;
  counters(): CountersSnapshot;
  faults(): Faults;
  /** Replaces the fault configuration (all off with `{}`) and reseeds the fault generator. */
  setFaults(faults: FaultsInput): Faults;
  config(): PublicConfig;
  /** Changes plan, limits, rate limits or behaviour; unspecified settings stay. */
  configure(patch: ConfigPatch): PublicConfig;
  /** Forgets all state and/or counters (both by default); configuration and faults stay. */
  reset(what?: { state?: boolean; counters?: boolean }): void;
  /** Callbacks to the app's backend (docs/zim-emulator.md, "Send APIs and callbacks"). */
  readonly callbacks: {
    config(): ReturnType<EmulatorCore['callbacks']['publicConfig']>;
    configure(patch: CallbacksPatch): ReturnType<EmulatorCore['callbacks']['publicConfig']>;
    deliveries(filter?: { outcome?: DeliveryOutcome; event?: string }): DeliveryRecord[];
    /** Resolves once no callback is waiting for an attempt or a retry. */
    idle(): Promise<void>;
  };
  /** Acts as App 2.0 users through the SDK; each action fires its callbacks (source 0). */
  readonly sdk: EmulatorCore['sdk'];
  stop(): Promise<void>;
}

export async function startZimEmulator(options: EmulatorOptions): Promise<ZimEmulator> {
  const parsed = EmulatorOptionsSchema.safeParse(options);
  if (!parsed.success) throw new TypeError(`Invalid emulator options: ${describeIssues(parsed.error)}`);
  const { host, port, maxBodyBytes } = parsed.data;
  const core = new EmulatorCore(parsed.data);
  const inspector = new Inspector(core);
  const requestIds = requestIdGenerator();

  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    const done = isIntrospection(req.url)
      ? serveIntrospection(core, inspector, req, res, maxBodyBytes)
      : serveApi(core, req, res, maxBodyBytes, requestIds);
    done.catch((err: unknown) => {
      core.counters.internalError();
      console.error('zim-emulator: request failed:', err);
      if (!res.headersSent) sendJson(res, 500, JSON.stringify({ Code: ZimCode.GATEWAY_INTERNAL, Message: 'error' }));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostInUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${hostInUrl}:${address.port}`,
    host: address.address,
    port: address.port,
    appId: core.appId,
    inspect: inspector,
    counters: () => core.counters.snapshot(),
    faults: () => core.faults.config,
    setFaults: (faults) => core.faults.set(faults),
    config: () => core.publicConfig(),
    configure: (patch) => core.configure(patch),
    reset: (what) => core.reset(what),
    callbacks: {
      config: () => core.callbacks.publicConfig(),
      configure: (patch) => core.callbacks.configure(patch),
      deliveries: (filter) => core.callbacks.log(filter),
      idle: () => core.callbacks.idle(),
    },
    sdk: core.sdk,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        core.callbacks.stop();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function isIntrospection(url: string | undefined): boolean {
  return url !== undefined && (url.startsWith(INTROSPECTION_PREFIX) || url === INTROSPECTION_PREFIX.slice(0, -1));
}

async function serveApi(
  core: EmulatorCore,
  req: IncomingMessage,
  res: ServerResponse,
  maxBodyBytes: number,
  nextRequestId: () => string
): Promise<void> {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = parseQuery(q < 0 ? '' : rawUrl.slice(q + 1));
  core.counters.request();
  const action = path === '/' ? routeAction(query) : new Refusal(ZimCode.ACTION_UNSUPPORTED, `no API at ${path}`);
  if (action instanceof Refusal) {
    await readBody(req, maxBodyBytes);
    core.counters.answer(undefined, action.code);
    return sendJson(res, 200, serializeReply({ code: action.code, message: action.zimMessage }, nextRequestId()));
  }
  core.counters.call(action);

  const fault = core.faults.decide(action);
  if (fault && fault.delayMs > 0) {
    core.counters.fault('delayed');
    if (fault.spike) core.counters.fault('latencySpike');
    await sleep(fault.delayMs);
  }
  if (fault?.reset) {
    core.counters.fault('reset');
    return void req.socket.resetAndDestroy();
  }
  const body = await readBody(req, maxBodyBytes);
  if (fault?.http5xx) {
    core.counters.fault('http5xx');
    res.writeHead(502, { 'content-type': 'text/html' });
    return void res.end('<html><body>502 Bad Gateway</body></html>');
  }
  const reply =
    body === undefined
      ? { code: ZimCode.PARAM_INVALID, message: `body over ${maxBodyBytes} bytes` }
      : core.execute(action, req.method ?? 'GET', query, body, fault);
  if (reply.hold) await reply.hold;
  if (reply.code === ZimCode.SUCCESS && fault?.commitThenDrop && ZIM_ACTIONS[action].mutates) {
    // Applied, but the caller never learns it: the case exactly-once reconciliation exists for.
    core.counters.fault('commitThenDrop');
    return void req.socket.resetAndDestroy();
  }
  sendJson(res, 200, serializeReply(reply, nextRequestId()));
}

async function serveIntrospection(
  core: EmulatorCore,
  inspector: Inspector,
  req: IncomingMessage,
  res: ServerResponse,
  maxBodyBytes: number
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://emulator');
  const text = await readBody(req, maxBodyBytes);
  let body: unknown;
  let segments: string[];
  try {
    body = text ? (JSON.parse(text) as unknown) : undefined;
    segments = url.pathname.slice(INTROSPECTION_PREFIX.length).split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return sendJson(res, 400, JSON.stringify({ error: 'malformed JSON body or path' }));
  }
  const query = Object.fromEntries(url.searchParams);
  const { status, body: out } = routeIntrospection(core, inspector, req.method ?? 'GET', segments, query, body);
  sendJson(res, status, JSON.stringify(out));
}

/** The request body, or undefined when it is larger than `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > max ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The ZIM envelope: Code, Message ("success" on 0), a unique RequestId, then the Action's fields. */
export function serializeReply(reply: Reply, requestId: string): string {
  const message = reply.message ?? (reply.code === ZimCode.SUCCESS ? 'success' : '');
  let out = `{"Code":${reply.code},"Message":${JSON.stringify(message)},"RequestId":"${requestId}"`;
  for (const [key, value] of Object.entries(reply.fields ?? {}))
    out += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
  for (const [key, json] of Object.entries(reply.raw ?? {})) out += `,${JSON.stringify(key)}:${json}`;
  return `${out}}`;
}

/** Numeric-looking, unique per call (ZIM's look like "343649807833778782"). */
function requestIdGenerator(): () => string {
  const prefix = `${Math.floor(Date.now() / 1000)}`;
  let n = 0;
  return () => `${prefix}${String(++n).padStart(8, '0')}`;
}

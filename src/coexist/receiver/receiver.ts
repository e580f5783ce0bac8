/**
 * The coexistence receiver (docs/coexistence.md §2): an HTTP service with no state of its own, so several can run
 * behind a load balancer.
 *   POST /zim/callback    ZIM's server callbacks: signature (sha1 over secret, timestamp, nonce), appid, freshness,
 *                         nonce replay;
 *   POST /legacy/events   the legacy routing webhook: HMAC-SHA256 over timestamp and raw body, freshness, replay.
 * A delivery that fails authentication gets 401 and nothing is started; the log line names the route and the
 * reason, never the payload. An authentic one is normalised and handed to its conversation's workflow; 200 only
 * once Temporal has accepted every event, 503 when it did not (ZEGO and the legacy backend retry). An echo of a
 * mirror the ledger holds SENT is settled in the store instead, with no Temporal call (echo-settling.ts). Once the
 * sync drains, everything is answered 410 but the echoes of our own ZIM sends (the stop's repairs come after it).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CallbackEnvelopeSchema, verifyCallbackSignature, ZimCallbackSchema } from '../../zim-callbacks';
import { LEGACY_SIGNATURE_HEADER, LEGACY_TIMESTAMP_HEADER, LegacyRoutingEventSchema } from '../legacy-contract';
import { LEGACY_MAX_SKEW_SECONDS, verifyLegacySignature } from '../legacy-signature';
import { legacyIdInPayload, type SyncEvent } from '../sync-event';
import type { EchoSettling } from './echo-settling';
import { normaliseLegacy, normaliseZim, type EchoWay, type PutBody } from './normalise';
import { ReplayCache } from './replay-cache';

export interface ReceiverOptions {
  zim: { appId: number; callbackSecret: string };
  legacy: { webhookSecret: string; echoWays: EchoWay[] };
  putBody: PutBody;
  /**
   * Records a message the sync leaves on its side by policy: a ZIM server-API send (`source` 1) without our tag is
   * the app backend's own, not mirrored (§3); the audit must not take it for one whose callback was lost.
   */
  notMirrored?: (event: SyncEvent) => Promise<void>;
  /**
   * Echoes whose mirror the ledger holds SENT are settled here, without a hand-off (echo-settling.ts); without it
   * every echo goes to its workflow.
   */
  echoes?: EchoSettling;
  /** Durably hands one event to its conversation's workflow; throws when it could not. */
  handoff: (event: SyncEvent) => Promise<void>;
  /**
   * False once the sync is draining or stopped (`coexist stop`): authentic deliveries are then answered 410, except
   * the echoes of our own ZIM sends (settleOnly).
   */
  accepting?: () => Promise<boolean>;
  /** Largest accepted clock difference, seconds (default 300). */
  maxSkewSeconds?: number;
  now?: () => number;
  log?: (line: string) => void;
  port?: number;
  host?: string;
}

export interface Receiver {
  url: string;
  counts: Record<string, number>;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

/** Ends a request with this status; `reason` is logged and answered (it never quotes the payload). */
class Answer extends Error {
  constructor(
    readonly status: number,
    readonly reason: string
  ) {
    super(reason);
  }
}

async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new Answer(413, 'body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** ZIM says to URL-decode callbacks; whether the whole body or fields are encoded is UNCONFIRMED: accept both. */
function parseZimBody(raw: Buffer): unknown {
  let text = raw.toString('utf8').trim();
  if (text.startsWith('%7B') || text.startsWith('%7b')) text = decodeURIComponent(text);
  return JSON.parse(text);
}

/** Group events document ms but show seconds (coexistence.md §3.2): normalise for the freshness check only. */
const toSeconds = (token: string | number) => {
  const n = Number(token);
  return n > 1e11 ? n / 1000 : n;
};

export async function startReceiver(options: ReceiverOptions): Promise<Receiver> {
  const now = options.now ?? Date.now;
  const skew = options.maxSkewSeconds ?? LEGACY_MAX_SKEW_SECONDS;
  const log = options.log ?? ((line: string) => console.log(line));
  const replays = new ReplayCache(2 * skew * 1000);
  const counts: Record<string, number> = {};
  const count = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);

  async function zim(raw: Buffer): Promise<void> {
    let body: unknown;
    try {
      body = parseZimBody(raw);
    } catch {
      throw new Answer(401, 'unreadable body');
    }
    const envelope = CallbackEnvelopeSchema.safeParse(body);
    if (!envelope.success) throw new Answer(401, 'no signature envelope');
    const e = envelope.data;
    if (String(e.appid) !== String(options.zim.appId)) throw new Answer(401, 'wrong appid');
    if (!verifyCallbackSignature(options.zim.callbackSecret, e)) throw new Answer(401, 'bad signature');
    if (Math.abs(now() / 1000 - toSeconds(e.timestamp)) > skew) throw new Answer(401, 'stale timestamp');
    const replayKey = `zim:${String(e.timestamp)}:${String(e.nonce)}`;
    if (replays.has(replayKey, now())) throw new Answer(401, 'replayed nonce');
    const parsed = ZimCallbackSchema.safeParse(body);
    if (!parsed.success) throw new Answer(400, `unsupported ${e.event} payload`);
    const cb = parsed.data;
    if (await stopped()) {
      // The echo of one of our sends after the drain (the stop's repairs are sent then): taken, never handed off.
      if (!(cb.event === 'send_msg' && cb.source === 1 && legacyIdInPayload(cb.payload) !== undefined))
        throw new Answer(410, 'sync stopped');
      await settleOnly(await normaliseZim(cb, options.putBody));
      replays.add(replayKey, now());
      return;
    }
    const events = await normaliseZim(cb, options.putBody);
    // Before the hand-off: a failure answers 5xx, and ZEGO's retry records it again (idempotent).
    for (const ev of events)
      if (ev.kind === 'echo' && ev.origin === 'zim' && ev.echoOf === undefined) await options.notMirrored?.(ev);
    await handOff(events);
    replays.add(replayKey, now());
  }

  async function legacy(req: IncomingMessage, raw: Buffer): Promise<void> {
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const timestamp = header(LEGACY_TIMESTAMP_HEADER);
    const signature = header(LEGACY_SIGNATURE_HEADER);
    const verdict = verifyLegacySignature(
      options.legacy.webhookSecret,
      { timestamp, signature, rawBody: raw },
      now() / 1000,
      skew
    );
    if (verdict !== 'ok') throw new Answer(401, verdict);
    const replayKey = `legacy:${signature!}`;
    if (replays.has(replayKey, now())) throw new Answer(401, 'replayed signature');
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new Answer(400, 'body is not JSON');
    }
    const parsed = LegacyRoutingEventSchema.safeParse(json);
    if (!parsed.success) throw new Answer(400, 'not a routing event');
    await refuseWhenStopped();
    await handOff(await normaliseLegacy(parsed.data, options.legacy.echoWays, options.putBody));
    replays.add(replayKey, now());
  }

  /**
   * Before normalising, which stores the message's body: a delivery refused for good (its sender gives up on 410)
   * would leave a body that no message ever settles, kept for good.
   */
  async function refuseWhenStopped(): Promise<void> {
    if (await stopped()) throw new Answer(410, 'sync stopped');
  }
  async function stopped(): Promise<boolean> {
    return options.accepting !== undefined && !(await options.accepting());
  }

  /**
   * Echoes of our own ZIM sends once the sync drains: answered 200, not 410, which ZEGO would retry for about a
   * minute and drop. The stop's repairs are sent after the drain, and their echoes used to spend their senders'
   * retries on the 410. One whose mirror is recorded SENT is settled in the store as always. One whose mirror is not
   * (its send's answer still on its way, or its send ambiguous) is dropped: a hand-off could start a conversation
   * after the stop closed them all, and the send's own answer or its tail check settles the row (the echo of an
   * ambiguous send is never needed for that, as when its delivery is lost).
   */
  async function settleOnly(events: SyncEvent[]): Promise<void> {
    for (const event of events) {
      const verdict = (await settlerOf(event)?.check(event)) ?? 'hand-off';
      count(`${event.origin}.echo.${verdict === 'hand-off' ? 'dropped-after-drain' : verdict}`);
    }
  }

  /** The store's echo settling, for an echo of one of our mirrors (anything else is for the workflow). */
  function settlerOf(event: SyncEvent): EchoSettling | undefined {
    return event.kind === 'echo' && event.echoOf !== undefined ? options.echoes : undefined;
  }

  async function handOff(events: SyncEvent[]): Promise<void> {
    for (const event of events) {
      const echo = settlerOf(event);
      const verdict = echo ? await echo.check(event) : 'hand-off';
      if (verdict !== 'hand-off') {
        count(`${event.origin}.echo.${verdict}`);
        continue;
      }
      try {
        await options.handoff(event);
      } catch (err) {
        log(`receiver: hand-off to Temporal failed (${err instanceof Error ? err.name : 'error'}); answering 503`);
        throw new Answer(503, 'Temporal did not accept the event');
      }
      // After the hand-off: one that failed is not recorded, so the sender's retry is looked at afresh.
      await echo?.handedOff(event);
      count(`${event.origin}.${event.kind}`);
    }
  }

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route =
      req.method === 'POST' && path === '/zim/callback'
        ? (raw: Buffer) => zim(raw)
        : req.method === 'POST' && path === '/legacy/events'
          ? (raw: Buffer) => legacy(req, raw)
          : undefined;
    if (!route) {
      res.writeHead(req.method === 'GET' && path === '/healthz' ? 200 : 404).end();
      return;
    }
    readRaw(req)
      .then(route)
      .then(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
        (err: unknown) => {
          const a = err instanceof Answer ? err : new Answer(500, 'internal error');
          count(`answered.${a.status}`);
          // Route, status and reason only: never the body, which may hold message text and ids.
          if (a.status !== 503 && a.status !== 410) log(`receiver: ${path} answered ${a.status}: ${a.reason}`);
          res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: a.reason }));
        }
      );
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    counts,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Operating a coexistence sync (`zim-migrate coexist start|status|stop`): the sync's workflow
 * (`coexist-sync:<name>`, workflows/coexist-sync.ts) holds its state; its conversations are found by their
 * ZimCoexistSync search attribute, and their counters read from their `stats` query (open ones) or result
 * (closed ones). Receivers read the sync's state by describe (no worker needed) to refuse events once it drains.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ZIM_COEXIST_STATUS, ZIM_COEXIST_SYNC } from '../shared/search-attributes';
import type {
  AuditFigures,
  AuditTotals,
  coexistSyncWorkflow,
  CoexistSyncState,
  CoexistSyncView,
  StopSummary,
} from '../../workflows/coexist-sync';
import { DEFAULT_AUDIT_GRACE_MS, drainSignal, stoppedSignal, syncViewQuery } from '../../workflows/coexist-sync';
import type { coexistAuditWorkflow } from '../../workflows/coexist-audit';
import { closeSignal, syncStatsQuery, type SyncStats } from '../../workflows/coexist';
import type { LagSample } from '../../workflows/coexist-lag';
import type { CoexistStore } from './coexist-store';
import { handoffFromMemo, type HandoffSetting } from './handoff-setting';

export const syncWorkflowId = (name: string) => `coexist-sync:${name}`;
/** How long a receiver trusts the sync state it read (ms); `stop` waits twice this before draining. */
export const GATE_CACHE_MS = 1_000;
/** The window events per second are counted over (ms). */
const RATE_WINDOW_MS = 60_000;

export interface SyncOptions {
  /** Minutes between reconciliation audits (default 15; 0: never). */
  auditEveryMinutes?: number;
  /** Only messages older than this are audited (ms, default 2 min). */
  auditGraceMs?: number;
  /** Messages before this are never audited (ms, default the sync's start). */
  auditFrom?: number;
  /** The historical-import handoff (`coexist start --handoff`). */
  handoff?: HandoffSetting;
}

export async function startSync(client: Client, name: string, taskQueue: string, o: SyncOptions = {}): Promise<string> {
  const handle = await client.workflow.start<typeof coexistSyncWorkflow>('coexistSyncWorkflow', {
    workflowId: syncWorkflowId(name),
    taskQueue,
    args: [
      {
        name,
        startedAt: Date.now(),
        ...(o.auditEveryMinutes !== undefined ? { auditEveryMinutes: o.auditEveryMinutes } : {}),
        ...(o.auditGraceMs !== undefined ? { auditGraceMs: o.auditGraceMs } : {}),
        ...(o.auditFrom !== undefined ? { auditFrom: o.auditFrom } : {}),
        ...(o.handoff ? { handoff: o.handoff } : {}),
      },
    ],
    // Receivers read the handoff by describe (no worker needed), as they read the state.
    ...(o.handoff ? { memo: { handoff: o.handoff } } : {}),
    typedSearchAttributes: [
      { key: ZIM_COEXIST_SYNC, value: name },
      { key: ZIM_COEXIST_STATUS, value: 'running' },
    ],
  });
  return handle.workflowId;
}

/** The sync's state; undefined when no sync of that name was ever started. */
export async function syncState(client: Client, name: string): Promise<CoexistSyncState | undefined> {
  return (await readSync(client, name))?.state;
}

/** The sync as receivers need it: its state and its handoff; undefined when no sync of that name was started. */
export async function readSync(
  client: Client,
  name: string
): Promise<{ state: CoexistSyncState; handoff?: HandoffSetting } | undefined> {
  try {
    const d = await client.workflow.getHandle(syncWorkflowId(name)).describe();
    const handoff = handoffFromMemo(d.memo);
    const withHandoff = handoff ? { handoff } : {};
    if (d.status.name !== 'RUNNING') return { state: 'stopped', ...withHandoff };
    const s = d.typedSearchAttributes.get(ZIM_COEXIST_STATUS);
    return { state: s === 'draining' || s === 'stopped' ? s : 'running', ...withHandoff };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

type SyncRead = Awaited<ReturnType<typeof readSync>>;

/**
 * How long a receiver's read of the sync may take. The client's own retries would hold a delivery about 20 s while
 * Temporal is down: past the sender's attempt timeout (ZEGO's, UNCONFIRMED at 3 s), so it would see a timeout, not
 * the 503 of the hand-off's deadline. With Temporal down a delivery reads twice (the gate takes events when its
 * read fails, then the hand-off's read fails): 503 after about 1.5 s.
 */
export const SYNC_READ_DEADLINE_MS = 750;

/**
 * For the receiver: the sync as last read, by describe. One describe serves every delivery for `cacheMs` (trusted
 * from its answer), including the deliveries that arrive while it is in flight; a failed read is not kept.
 */
export function syncReader(
  client: Client,
  name: string,
  cacheMs = GATE_CACHE_MS,
  deadlineMs = SYNC_READ_DEADLINE_MS
): () => Promise<SyncRead> {
  let cached: { at: number; read: Promise<SyncRead> } | undefined;
  return () => {
    if (!cached || Date.now() - cached.at >= cacheMs) {
      const read = client.connection.withDeadline(Date.now() + deadlineMs, () => readSync(client, name));
      const entry = { at: Infinity, read };
      entry.read.then(
        () => (entry.at = Date.now()),
        () => (entry.at = -Infinity)
      );
      cached = entry;
    }
    return cached.read;
  };
}

/**
 * For the receiver: whether to take events. A sync never started takes them (a receiver run without `coexist
 * start`); one draining or stopped does not. An unreachable Temporal takes them too: the hand-off then fails (503).
 */
export function acceptingGate(
  client: Client,
  name: string,
  cacheMs = GATE_CACHE_MS,
  read = syncReader(client, name, cacheMs)
): () => Promise<boolean> {
  return () =>
    read().then(
      (s) => s === undefined || s.state === 'running',
      () => true
    );
}

/**
 * For the receiver: the sync's handoff, passed to the conversations it starts. A failed read throws (the hand-off
 * then answers 503 and the sender retries): a conversation started without the handoff would mirror messages the
 * import also writes.
 */
export function handoffReader(
  client: Client,
  name: string,
  cacheMs = GATE_CACHE_MS,
  read = syncReader(client, name, cacheMs)
): () => Promise<HandoffSetting | undefined> {
  return async () => (await read())?.handoff;
}

interface Conversation {
  workflowId: string;
  open: boolean;
  stats: SyncStats;
}

/** Every conversation run of the sync that carries counters: open ones, and closed ones not continued as new. */
async function conversations(client: Client, name: string): Promise<Conversation[]> {
  const out: Conversation[] = [];
  const query = `${ZIM_COEXIST_SYNC.name} = "${name}" AND WorkflowType = "conversationSyncWorkflow"`;
  for await (const w of client.workflow.list({ query })) {
    const handle = client.workflow.getHandle(w.workflowId, w.runId);
    if (w.status.name === 'RUNNING') {
      out.push({ workflowId: w.workflowId, open: true, stats: await handle.query(syncStatsQuery) });
    } else if (w.status.name === 'COMPLETED') {
      out.push({ workflowId: w.workflowId, open: false, stats: (await handle.result()) as SyncStats });
    }
  }
  return out;
}

export interface DirectionFigures {
  mirrored: number;
  eventsPerSecond: number;
  lagMs: { p50: number | null; p99: number | null };
}

export interface SyncStatus {
  name: string;
  state: CoexistSyncState | 'unknown';
  conversations: { open: number; closed: number };
  legacyToZim: DirectionFigures;
  zimToLegacy: DirectionFigures;
  /** Echoes of our mirrors stopped: the workflows' and the receivers' (when the store could be read). */
  echoesSuppressed: number;
  /**
   * Who stopped them: the conversation workflows, and the receivers, which settle the echo of a mirror the ledger
   * holds SENT in the store without a Temporal call (null when the store could not be read: `storeError` says why).
   */
  echoes: { byWorkflows: number; byReceivers: number | null; storeError?: string };
  /** Sends whose outcome was unknown, settled by their echo or by finding them in the target's tail. */
  settledAmbiguously: { byEcho: number; byTail: number };
  duplicatesDropped: number;
  reordered: number;
  refused: number;
  /** Mirrors given up after their retries (the coexistence store lists them: `coexist parked`). */
  parked: number;
  queued: number;
  /**
   * The historical-import handoff, when the sync has one: live legacy messages held, dropped (the history holds
   * them), released (mirrored once imported) and parked; `waiting` counts conversations still holding some.
   */
  handoff?: { held: number; dropped: number; released: number; parked: number; waiting: number };
  /** The reconciliation audits so far (the store lists each divergence: `coexist divergences`). */
  divergences: AuditTotals & { auditedUntil?: number };
}

/** The sync's audits: by its view while it runs (a worker must), by its result once stopped. */
async function auditsOf(client: Client, name: string): Promise<SyncStatus['divergences']> {
  const none = { runs: 0, failed: 0, found: 0, repaired: 0, gaps: 0 };
  const handle = client.workflow.getHandle<typeof coexistSyncWorkflow>(syncWorkflowId(name));
  try {
    const d = await handle.describe();
    if (d.status.name === 'COMPLETED') return (await handle.result()).audits ?? none;
    if (d.status.name !== 'RUNNING') return none;
    const v: CoexistSyncView = await handle.query(syncViewQuery);
    return { ...(v.audits ?? none), ...(v.auditedUntil !== undefined ? { auditedUntil: v.auditedUntil } : {}) };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return none;
    throw err;
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

function direction(mirrored: number, samples: LagSample[], now: number): DirectionFigures {
  const lags = samples.map(([, lag]) => lag).sort((a, b) => a - b);
  const recent = samples.filter(([at]) => now - at <= RATE_WINDOW_MS).length;
  return {
    mirrored,
    eventsPerSecond: Math.round((recent / (RATE_WINDOW_MS / 1000)) * 100) / 100,
    lagMs: { p50: percentile(lags, 50), p99: percentile(lags, 99) },
  };
}

/** The receivers' figure for status: none when the store could not be opened (the error says why). */
async function echoesByReceivers(store: CoexistStore | Error | undefined, name: string) {
  if (store === undefined) return { byReceivers: null, storeError: 'no coexistence store given' };
  if (store instanceof Error) return { byReceivers: null, storeError: store.message };
  try {
    return { byReceivers: await store.echoesSettledByReceivers(name) };
  } catch (err) {
    return { byReceivers: null, storeError: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The sync's figures, summed over its conversation workflows; `store` (the receivers' coexistence store, or why it
 * could not be opened) adds the echoes the receivers settled themselves.
 */
export async function syncStatus(
  client: Client,
  name: string,
  store?: CoexistStore | Error,
  now = Date.now()
): Promise<SyncStatus> {
  const state = (await syncState(client, name)) ?? 'unknown';
  const convs = await conversations(client, name);
  const sum = (f: (s: SyncStats) => number) => convs.reduce((n, c) => n + f(c.stats), 0);
  const samples = (origin: 'zim' | 'legacy') => convs.flatMap((c) => c.stats.lags?.[origin] ?? []);
  const echoes = await echoesByReceivers(store, name);
  return {
    name,
    state,
    conversations: { open: convs.filter((c) => c.open).length, closed: convs.filter((c) => !c.open).length },
    legacyToZim: direction(
      sum((s) => s.mirroredToZim),
      samples('legacy'),
      now
    ),
    zimToLegacy: direction(
      sum((s) => s.mirroredToLegacy),
      samples('zim'),
      now
    ),
    echoesSuppressed: sum((s) => s.echoesSuppressed) + (echoes.byReceivers ?? 0),
    echoes: { byWorkflows: sum((s) => s.echoesSuppressed), ...echoes },
    settledAmbiguously: { byEcho: sum((s) => s.resolvedByEcho), byTail: sum((s) => s.resolvedByTail) },
    duplicatesDropped: sum((s) => s.duplicatesDropped),
    reordered: sum((s) => s.reordered),
    refused: sum((s) => s.refusedTotal ?? s.refused.length),
    parked: sum((s) => s.parkedTotal ?? s.parked.length),
    queued: sum((s) => s.queued),
    ...(convs.some((c) => c.stats.handoff)
      ? {
          handoff: {
            held: sum((s) => s.handoff?.held ?? 0),
            dropped: sum((s) => s.handoff?.dropped ?? 0),
            released: sum((s) => s.handoff?.released ?? 0),
            parked: sum((s) => s.handoff?.parked ?? 0),
            waiting: convs.filter((c) => c.open && c.stats.handoff?.waiting !== undefined).length,
          },
        }
      : {}),
    divergences:
      state === 'unknown' ? { runs: 0, failed: 0, found: 0, repaired: 0, gaps: 0 } : await auditsOf(client, name),
  };
}

export interface StopResult extends StopSummary {
  alreadyStopped: boolean;
  tookMs: number;
}

const openConversations = (name: string) =>
  `${ZIM_COEXIST_SYNC.name} = "${name}" AND WorkflowType = "conversationSyncWorkflow" AND ExecutionStatus = "Running"`;

/** Longest wait for the open conversations to finish what they hold before the final audit reads both sides. */
const QUIET_WAIT_MS = 2 * 60_000;

/**
 * The final audit of `coexist stop`, after the drain: once the conversations have handled what they hold, every
 * message before the drain that is still on one side only was lost on the way (a callback or routing event lost,
 * or refused with 410 during the drain) and is handed back to its conversation, which the close then finishes.
 * The window runs from the last scheduled audit (or the sync's start) to the drain, with no grace.
 */
async function finalAudit(
  client: Client,
  name: string,
  taskQueue: string,
  log: (line: string) => void
): Promise<AuditFigures> {
  const quietBy = Date.now() + QUIET_WAIT_MS;
  for (;;) {
    let queued = 0;
    for await (const w of client.workflow.list({ query: openConversations(name) })) {
      const s = await client.workflow
        .getHandle(w.workflowId)
        .query(syncStatsQuery)
        .catch(() => undefined);
      queued += s?.queued ?? 0;
    }
    if (queued === 0 || Date.now() > quietBy) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const sync = client.workflow.getHandle(syncWorkflowId(name));
  const view = await sync.query(syncViewQuery);
  const handoff = handoffFromMemo((await sync.describe()).memo);
  const until = view.drainingSince ?? Date.now();
  const earliest = view.auditFrom ?? view.startedAt;
  const from = Math.max(
    earliest,
    view.auditedUntil !== undefined ? view.auditedUntil - (view.auditGraceMs ?? DEFAULT_AUDIT_GRACE_MS) : earliest
  );
  log('auditing both sides up to the drain');
  const r = await client.workflow.execute<typeof coexistAuditWorkflow>('coexistAuditWorkflow', {
    workflowId: `coexist-audit:${name}:stop-${Date.now()}`,
    taskQueue,
    args: [{ from, until, syncName: name, ...(handoff ? { handoff: handoff.staging } : {}) }],
    typedSearchAttributes: [{ key: ZIM_COEXIST_SYNC, value: name }],
  });
  const onTheirWay = r.queued ? `; ${r.queued} still queued in their conversations (on their way, not lost)` : '';
  log(`audit: ${r.found} divergence${r.found === 1 ? '' : 's'} found, ${r.repaired} repaired${onTheirWay}`);
  return {
    found: r.found,
    repaired: r.repaired,
    gaps: r.gaps,
    ...(r.discovered !== undefined ? { discovered: r.discovered } : {}),
    ...(r.listingsCut !== undefined ? { listingsCut: r.listingsCut } : {}),
  };
}

/**
 * Drain and stop: the sync goes to draining (receivers answer 410 within GATE_CACHE_MS), then every open
 * conversation is told to close once its queue is empty, and each is awaited; then the sync ends with the summary.
 * Needs a worker on the coexistence task queue (the conversations finish their pending events).
 */
export async function stopSync(
  client: Client,
  name: string,
  log: (line: string) => void = () => {}
): Promise<StopResult> {
  const began = Date.now();
  const sync = client.workflow.getHandle<typeof coexistSyncWorkflow>(syncWorkflowId(name));
  const state = await syncState(client, name);
  if (state === undefined) throw new WorkflowNotFoundError(`no sync named ${name}`, syncWorkflowId(name), undefined);
  if (state === 'stopped') return { ...(await sync.result()), alreadyStopped: true, tookMs: Date.now() - began };
  await sync.signal(drainSignal);
  log(`draining: receivers answer 410 to new events from now on (within ${(2 * GATE_CACHE_MS) / 1000} s)`);
  // Receivers read the state at most GATE_CACHE_MS old; events they accepted before are in the conversations' queues.
  await new Promise((r) => setTimeout(r, 2 * GATE_CACHE_MS));
  // An audit that fails (no worker with its activities, a side unreachable) does not keep the sync from stopping.
  const audit = await finalAudit(client, name, (await sync.describe()).taskQueue, log).catch((err: unknown) => {
    log(`audit failed, nothing repaired: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  });
  let closed = 0;
  let handled = 0;
  const query = openConversations(name);
  // Listed first, then closed together (closing changes what the listing returns); listed again until none is
  // open, for one a receiver started just before it saw the drain.
  for (;;) {
    const open: string[] = [];
    for await (const w of client.workflow.list({ query })) open.push(w.workflowId);
    if (open.length === 0) break;
    const results = await Promise.all(
      open.map(async (id) => {
        const handle = client.workflow.getHandle(id);
        try {
          await handle.signal(closeSignal);
          // Follows a continue-as-new to the run that completes.
          return (await handle.result()) as SyncStats;
        } catch (err) {
          // Closed by itself (idle) between the listing and the signal: nothing to do.
          if (err instanceof WorkflowNotFoundError) return undefined;
          throw err;
        }
      })
    );
    // All closed already, but still listed as running (visibility lags on some stores): look again shortly.
    if (results.every((r) => r === undefined)) await new Promise((r) => setTimeout(r, 1_000));
    for (const stats of results) {
      if (!stats) continue;
      closed++;
      handled += stats.mirroredToZim + stats.mirroredToLegacy + stats.echoesSuppressed;
    }
  }
  log(`closed ${closed} conversation workflow${closed === 1 ? '' : 's'}`);
  const summary: StopSummary = { closed, handled, ...(audit ? { audit } : {}) };
  await sync.signal(stoppedSignal, summary);
  const result = await sync.result();
  return { ...result, alreadyStopped: false, tookMs: Date.now() - began };
}

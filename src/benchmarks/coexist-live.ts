/**
 * `npm run bench:coexist`: two-way live coexistence at ZIM's send budgets while a historical import runs beside it.
 *
 * In this process: the ZIM emulator (ZIM's rate limits on), the reference legacy server and the traffic. Beside it:
 * a Temporal dev server, the receiver (`zim-migrate receiver`), the conversations' worker (`receiver --worker-only`)
 * and a migration worker (`zim-migrate worker`) importing a generated export, all sharing one call schedule. App 1.0
 * users send one-to-one and group messages through the legacy server, App 2.0 users through the emulator's SDK, each
 * at a set rate (by default 90% of SendPeerMessage's 20/s and SendGroupMessage's 10/s), for `--minutes`.
 *
 * It prints, from what both sides hold at the end (every message is looked up on the other side: the lag is the
 * copy's time there less the original's time on its side, both stamped by servers in this process): messages each
 * way with lost / duplicated / echoed, sync lag p50/p99/max each way, mirrored messages per second, CPU ms per synced
 * message of the receiver and the worker (the Temporal server's beside it, shared with the import), the
 * conversation workflows' history events per synced message, who stopped the echoes (the receiver or the
 * workflows), and the import's calls per second against its budgets
 * over the same minutes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { DEFAULT_COEXIST_TASK_QUEUE } from '../coexist/receiver/start';
import { openSqliteCoexistStore } from '../coexist/coexist-store';
import { startSync, stopSync, syncStatus } from '../coexist/sync-control';
import { startWorkerProcess } from '../chaos/worker-process';
import { freePort, startDevServerProcess } from '../dev-server/dev-server-process';
import { startLegacyServer } from '../legacy-server/server';
import { buildStaging, TEST_APP_ID, TEST_SECRET } from '../testing/migration-rig';
import { migrateIntoEmulator } from '../testing/migrate-into-emulator';
import { deliverToReceiver, post, type CoexistSides } from '../testing/coexist-traffic';
import { workerProcessEnv } from '../testing/worker-processes';
import { ZimClient } from '../zim-client';
import { defaultBudget } from '../zim-client/limits';
import { startZimEmulator } from '../zim-emulator';
import { LegacyClient } from '../coexist/legacy-client';
import { camelCaseKeys, wholeNumber } from './bench-flags';
import { budgetUse, callSample, renderBudgetUse, type CallSeries } from './budget-use';
import { cpuMeter, loadAverageText, renderCpuUse } from './process-stats';
import { historyEventsOf } from './history-events';

const FlagsSchema = z.object({
  minutes: z.coerce.number().positive('--minutes: more than 0').default(5),
  peerRate: wholeNumber('--peer-rate', 0).default(18),
  groupRate: wholeNumber('--group-rate', 0).default(9),
  pairs: wholeNumber('--pairs', 1).default(40),
  groups: wholeNumber('--groups', 0).default(4),
  members: wholeNumber('--members', 2).default(8),
  importUsers: wholeNumber('--import-users', 2).default(200),
  importMessages: wholeNumber('--import-messages', 0).default(12_000),
  seed: wholeNumber('--seed', 0).default(1),
});
type Flags = z.infer<typeof FlagsSchema>;

const HELP = `npm run bench:coexist -- [--minutes 5] [--peer-rate 18] [--group-rate 9] [--pairs 40] [--groups 4]
  [--members 8] [--import-users 200] [--import-messages 12000] [--seed 1]

Live traffic both ways for --minutes while a historical import of a generated export runs beside it, at ZIM's
budgets: --peer-rate one-to-one and --group-rate group messages per second from EACH side (App 1.0 through the
reference legacy server, App 2.0 through the emulator's SDK), spread over --pairs pairs and --groups groups of
--members. Prints messages each way (lost, duplicated, echoed), sync lag p50/p99 each way, messages/s, CPU ms per
synced message, and the import's budget use over the same minutes. Exit 1 when a message was lost, doubled or
echoed.`;

const SYNC = 'bench';
const RETRY_DELAYS_MS = [500, 1_000, 2_000, 4_000, 8_000, 16_000];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Conv = { key: string; members: string[]; group?: string };
interface Sent {
  conv: Conv;
  origin: 'L' | 'Z';
  body: string;
}

/** The conversations: pairs over a ring of users, and groups of consecutive users. */
function conversations(f: Flags): { users: string[]; convs: Conv[] } {
  const n = Math.max(f.pairs + 1, f.members);
  const users = Array.from({ length: n }, (_, i) => `bc-${String(i).padStart(4, '0')}`);
  const convs: Conv[] = [];
  for (let i = 0; i < f.pairs; i++) {
    const [a, b] = [users[i]!, users[(i + 1) % n]!].sort() as [string, string];
    convs.push({ key: `peer:${a}:${b}`, members: [a, b] });
  }
  for (let g = 0; g < f.groups; g++) {
    const members = Array.from({ length: f.members }, (_, i) => users[(g * f.members + i) % n]!);
    convs.push({ key: `group:bc-team-${g}`, members, group: `bc-team-${g}` });
  }
  return { users, convs };
}

/** Sends `rate` messages a second, round robin over `convs`, until `until`; at most 200 in flight. */
async function paced(
  rate: number,
  until: number,
  convs: Conv[],
  origin: 'L' | 'Z',
  send: (c: Conv, from: string, body: string) => Promise<void>,
  sent: Sent[],
  tag: string
): Promise<number> {
  if (rate === 0 || convs.length === 0) return 0;
  const inFlight = new Set<Promise<void>>();
  let failures = 0;
  const start = Date.now();
  for (let i = 0; ; i++) {
    const at = start + (i * 1000) / rate;
    if (at >= until) break;
    if (at > Date.now()) await sleep(at - Date.now());
    while (inFlight.size >= 200) await Promise.race(inFlight);
    const conv = convs[i % convs.length]!;
    const from = conv.members[Math.floor(i / convs.length) % conv.members.length]!;
    const body = `${origin} ${tag} ${i}`;
    const p = send(conv, from, body)
      .then(() => void sent.push({ conv, origin, body }))
      .catch(() => void failures++)
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  return failures;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main() {
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(
        [
          'minutes',
          'peer-rate',
          'group-rate',
          'pairs',
          'groups',
          'members',
          'import-users',
          'import-messages',
          'seed',
        ].map((k) => [k, { type: 'string' as const }])
      ),
      help: { type: 'boolean' },
    },
  });
  if (values.help) return void console.log(HELP);
  const parsed = FlagsSchema.safeParse(camelCaseKeys(values));
  if (!parsed.success) {
    console.error(parsed.error.issues.map((i) => i.message).join('\n') + '\n\n' + HELP);
    process.exit(2);
  }
  const f = parsed.data;
  const t0 = Date.now();
  const log = (line: string) => console.error(`${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s  ${line}`);
  const workDir = mkdtempSync(path.join(tmpdir(), 'zim-bench-coexist-'));
  const stops: Array<() => Promise<unknown>> = [];
  try {
    log(`building the import's staging (${f.importUsers} users, ${f.importMessages} one-to-one messages)`);
    const staging = await buildStaging(f.importUsers, f.seed, {
      gen: ['--messages', String(f.importMessages)],
      dir: workDir,
    });
    const apiToken = randomBytes(16).toString('hex');
    const webhookSecret = randomBytes(16).toString('hex');
    const emulator = await startZimEmulator({ appId: TEST_APP_ID, serverSecret: TEST_SECRET });
    stops.push(() => emulator.stop());
    const legacy = await startLegacyServer({ apiToken, webhookSecret, retryDelaysMs: RETRY_DELAYS_MS });
    stops.push(() => legacy.close());
    const server = await startDevServerProcess({
      dbFilename: path.join(workDir, 'temporal.db'),
      logFile: path.join(workDir, 'temporal.log'),
      sqlitePragmas: { journal_mode: 'wal', synchronous: 'normal' },
    });
    stops.push(() => server.stop());
    const budgetDbPath = path.join(workDir, 'budgets.sqlite');
    const env = {
      ...workerProcessEnv({
        temporalAddress: server.address,
        taskQueue: DEFAULT_COEXIST_TASK_QUEUE,
        zimBaseUrl: emulator.url,
        budgetDbPath,
      }),
      LEGACY_API_TOKEN: apiToken,
      LEGACY_WEBHOOK_SECRET: webhookSecret,
      ZIM_MIGRATE_COEXIST_STORE: path.join(workDir, 'coexist.sqlite'),
    };
    const receiverUrl = `http://127.0.0.1:${await freePort()}`;
    const start = (name: string, args: string[], readyLine: string) => {
      const p = startWorkerProcess({
        env,
        args: [...args, '--legacy-api', legacy.url],
        readyLine,
        logFile: path.join(workDir, `${name}.log`),
      });
      stops.push(() => p.stop());
      return p;
    };
    const receiver = start(
      'receiver',
      ['receiver', '--port', new URL(receiverUrl).port, '--sync', SYNC],
      'zim-migrate receiver: listening at'
    );
    const worker = start('worker', ['receiver', '--worker-only'], 'zim-migrate receiver: worker only');
    await Promise.all([receiver.ready(), worker.ready()]);

    const connection = await Connection.connect({ address: server.address });
    stops.push(() => connection.close());
    const client = new Client({ connection });
    const native = await NativeConnection.connect({ address: server.address });
    stops.push(() => native.close());
    const zim = new ZimClient({ appId: TEST_APP_ID, serverSecret: TEST_SECRET, baseUrl: emulator.url });
    stops.push(() => zim.close());
    const legacyClient = new LegacyClient(legacy.url, apiToken);
    stops.push(() => legacyClient.close());
    const sides: CoexistSides = { legacyUrl: legacy.url, zimUrl: emulator.url, legacy: legacyClient, zim };

    // Both sides know the users and groups before capture starts (as after their historical import).
    const { users, convs } = conversations(f);
    for (let i = 0; i < users.length; i += 100)
      await zim.userRegister({ UserInfo: users.slice(i, i + 100).map((UserId) => ({ UserId })) });
    await post(`${legacy.url}/_test/users`, { users });
    for (const c of convs.filter((c) => c.group)) {
      await zim.createGroup({
        GroupId: c.group!,
        GroupOwner: c.members[0]!,
        UserId: c.members.slice(1),
        GroupName: c.group!,
      });
      await post(`${legacy.url}/_test/app1/createGroup`, {
        operator: c.members[0],
        groupId: c.group,
        name: c.group,
        members: c.members.slice(1),
      });
    }
    emulator.callbacks.configure({ logSize: 1_000 });
    await deliverToReceiver(sides, { receiverUrl, retryDelaysMs: RETRY_DELAYS_MS });
    await startSync(client, SYNC, DEFAULT_COEXIST_TASK_QUEUE);

    const series: CallSeries = [];
    const sampler = setInterval(() => series.push(callSample(emulator.counters())), 1_000);
    const migrationId = `bench-coexist-${randomUUID().slice(0, 8)}`;
    let importDone: number | undefined;
    let importHandle: { terminate(reason?: string): Promise<unknown> } | undefined;
    const imported = migrateIntoEmulator({
      connection: native,
      client,
      emulator,
      stagingPath: staging.fresh(),
      migrationId,
      workerProcesses: { count: 1, temporalAddress: server.address, budgetDb: budgetDbPath },
      during: async (handle) => void (importHandle = handle),
    }).then(
      () => (importDone = Date.now()),
      () => undefined // terminated at the end of the traffic
    );
    while (!importHandle) await sleep(100);
    log(`import ${migrationId} running; traffic for ${f.minutes} min over ${convs.length} conversations`);

    const tag = randomUUID().slice(0, 8);
    const sent: Sent[] = [];
    const peers = convs.filter((c) => !c.group);
    const groups = convs.filter((c) => c.group);
    const target = (c: Conv, from: string) =>
      c.group ? { groupId: c.group } : { to: c.members[0] === from ? c.members[1] : c.members[0] };
    const legacySend = (c: Conv, from: string, body: string) =>
      post(`${legacy.url}/_test/app1/send`, { from, ...target(c, from), body });
    const zimSend = (c: Conv, from: string, body: string) =>
      post(`${emulator.url}/_emulator/sdk/send`, { from, ...target(c, from), body });
    const meter = cpuMeter({
      receiver: receiver.pid ?? 0,
      'coexist worker': worker.pid ?? 0,
      'Temporal server (shared with the import)': server.pid ?? 0,
    });
    const trafficFrom = Date.now();
    const until = trafficFrom + f.minutes * 60_000;
    const progress = setInterval(() => log(`${sent.length} messages sent`), 30_000);
    const failures = await Promise.all([
      paced(f.peerRate, until, peers, 'L', legacySend, sent, `${tag}p`),
      paced(f.groupRate, until, groups, 'L', legacySend, sent, `${tag}g`),
      paced(f.peerRate, until, peers, 'Z', zimSend, sent, `${tag}p`),
      paced(f.groupRate, until, groups, 'Z', zimSend, sent, `${tag}g`),
    ]);
    clearInterval(progress);
    const trafficTo = Date.now();
    log(`traffic over: ${sent.length} messages sent (${failures.reduce((a, b) => a + b, 0)} sends refused)`);

    // Wait for every message to reach the other side (or two minutes), then stop the sync.
    const settleUntil = Date.now() + 120_000;
    let result = compare(sent, legacy.store, emulator.inspect);
    while (result.lost > 0 && Date.now() < settleUntil) {
      await sleep(1_000);
      result = compare(sent, legacy.store, emulator.inspect);
    }
    const cpu = meter.stop();
    await sleep(3_000); // the last echoes
    result = compare(sent, legacy.store, emulator.inspect);
    clearInterval(sampler);
    await importHandle.terminate('bench:coexist: traffic over').catch(() => undefined);
    await imported;
    await stopSync(client, SYNC, () => undefined);
    const history = await historyEventsOf(client, 'conversationSyncWorkflow');
    // Who stopped the echoes: the receiver (a mirror already recorded SENT, no Temporal call) or the workflows.
    const store = openSqliteCoexistStore(path.join(workDir, 'coexist.sqlite'));
    const { echoes } = await syncStatus(client, SYNC, store).finally(() => store.close());

    const synced = result.legacyToZim.length + result.zimToLegacy.length;
    const trafficSeconds = (trafficTo - trafficFrom) / 1000;
    const lag = (lags: number[]) => {
      const s = [...lags].sort((a, b) => a - b);
      return `p50 ${seconds(percentile(s, 50))}, p99 ${seconds(percentile(s, 99))}, max ${seconds(s.at(-1) ?? NaN)}`;
    };
    const window = { from: trafficFrom, to: importDone ? Math.min(importDone, trafficTo) : trafficTo };
    console.log(`bench:coexist  ${f.minutes} min of traffic, load ${loadAverageText()}`);
    console.log(
      `  ${result.legacyToZim.length} messages legacy→ZIM, ${result.zimToLegacy.length} ZIM→legacy, ` +
        `${result.lost} lost, ${result.duplicated} duplicated, ${result.echoed} echoed`
    );
    console.log(`  lag legacy→ZIM ${lag(result.legacyToZim)}`);
    console.log(`  lag ZIM→legacy ${lag(result.zimToLegacy)}`);
    console.log(
      `  ${(result.legacyToZim.length / trafficSeconds).toFixed(1)} msg/s legacy→ZIM, ` +
        `${(result.zimToLegacy.length / trafficSeconds).toFixed(1)} msg/s ZIM→legacy over ${trafficSeconds.toFixed(0)} s`
    );
    const perMessage = cpu.map((u) => `${u.name} ${((u.cpuSeconds * 1000) / synced).toFixed(2)} ms`).join(', ');
    console.log(`  CPU per synced message: ${perMessage}`);
    console.log(`  CPU: ${renderCpuUse(cpu)}`);
    console.log(
      `  history: ${history.events} events in ${history.runs} conversation workflow runs = ` +
        `${(history.events / synced).toFixed(1)} per synced message (signals ${(history.signals / synced).toFixed(2)}, ` +
        `workflow tasks ${(history.workflowTasks / synced).toFixed(2)})`
    );
    console.log(
      `  echoes: ${echoes.byReceivers ?? 0} settled by the receiver (no Temporal call), ` +
        `${echoes.byWorkflows} by the conversation workflows`
    );
    console.log(
      `  import: ${importDone ? `finished ${((importDone - trafficFrom) / 1000).toFixed(0)} s into the traffic` : 'still running at the end (terminated)'}`
    );
    for (const action of ['ImportPeerMsg', 'ImportGroupMsg', 'SendPeerMessage', 'SendGroupMessage']) {
      const budget = defaultBudget(action).rate;
      const use = budgetUse(series, action, budget, window);
      if (use) console.log(`  ${renderBudgetUse(action, use, budget)}`);
    }
    if (result.lost + result.duplicated + result.echoed > 0) process.exitCode = 1;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    if (process.exitCode) log(`work folder kept: ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * Every sent message looked up on both sides: its copies on the other side (none: lost; more than one: duplicated;
 * the lag of the first), and its copies on its own side (more than one: echoed back).
 */
function compare(
  sent: Sent[],
  legacy: { conversations: Map<string, { messages: { body: string; sentAt: number }[] }> },
  zim: {
    conversation(owner: string, peer: string, paging: { limit: number }): { body: string; time: number }[] | undefined;
    groupMessages(id: string, paging: { limit: number }): { body: string; time: number }[] | undefined;
  }
) {
  const byConv = new Map<string, { legacy: Map<string, number[]>; zim: Map<string, number[]> }>();
  const index = (msgs: { body: string; time: number }[]) => {
    const m = new Map<string, number[]>();
    for (const x of msgs) m.set(x.body, [...(m.get(x.body) ?? []), x.time]);
    return m;
  };
  const sides = (c: Conv) => {
    let s = byConv.get(c.key);
    if (!s) {
      const l = (legacy.conversations.get(c.key)?.messages ?? []).map((m) => ({ body: m.body, time: m.sentAt }));
      const all = { limit: Number.MAX_SAFE_INTEGER };
      const z = (c.group ? zim.groupMessages(c.group, all) : zim.conversation(c.members[0]!, c.members[1]!, all)) ?? [];
      s = { legacy: index(l), zim: index(z) };
      byConv.set(c.key, s);
    }
    return s;
  };
  const out = { legacyToZim: [] as number[], zimToLegacy: [] as number[], lost: 0, duplicated: 0, echoed: 0 };
  for (const m of sent) {
    const s = sides(m.conv);
    const [own, other] = m.origin === 'L' ? [s.legacy, s.zim] : [s.zim, s.legacy];
    const mine = own.get(m.body) ?? [];
    const copies = other.get(m.body) ?? [];
    if (mine.length > 1) out.echoed += mine.length - 1;
    if (copies.length === 0) {
      out.lost++;
      continue;
    }
    if (copies.length > 1) out.duplicated += copies.length - 1;
    (m.origin === 'L' ? out.legacyToZim : out.zimToLegacy).push(copies[0]! - (mine[0] ?? copies[0]!));
  }
  return out;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});

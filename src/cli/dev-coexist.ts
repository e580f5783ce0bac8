/**
 * `zim-migrate dev --coexist`: after the historical import, the rehearsal runs two-way coexistence against its ZIM
 * emulator. It starts the reference legacy server, a receiver (the emulator's callbacks pointed at it) and a worker
 * for the conversation workflows, all in this process, starts sync "rehearsal", and drives traffic on both sides
 * at once: App 1.0 users sending through the legacy server, App 2.0 users through the emulator's SDK actor,
 * one-to-one and in a group. Then it stops the sync (drain, close every conversation) and compares both sides
 * conversation by conversation: every message sent on one side must be on the other exactly once, and never come
 * back to its own side. Everything it starts it stops, whatever happens.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { request } from 'undici';
import { openSqliteCoexistStore, type CoexistStore } from '../coexist/coexist-store';
import { LegacyClient } from '../coexist/legacy-client';
import type { Receiver } from '../coexist/receiver/receiver';
import {
  checkLegacyAdapter,
  createCoexistWorker,
  DEFAULT_COEXIST_TASK_QUEUE,
  startCoexistReceiver,
} from '../coexist/receiver/start';
import { startSync, stopSync, syncStatus } from '../coexist/sync-control';
import { startLegacyServer, type LegacyServer } from '../legacy-server/server';
import { SqliteCallScheduler } from '../rate-limit/call-scheduler';
import { renderSyncStatus } from './commands/coexist';

export const COEXIST_SYNC = 'rehearsal';
const USERS = ['co-ann', 'co-bob', 'co-cy', 'co-dee'];
const PAIRS = [
  ['co-ann', 'co-bob'],
  ['co-bob', 'co-cy'],
  ['co-cy', 'co-dee'],
] as const;
const GROUP = 'co-team';
/** How long the traffic may take to reach the other side before the check runs anyway. */
const SETTLE_TIMEOUT_MS = 120_000;

export interface DevCoexistOptions {
  client: Client;
  temporalAddress: string;
  zimUrl: string;
  appId: number;
  serverSecret: string;
  dir: string;
  /** Rounds of traffic: each sends one message per conversation from each side. */
  rounds: number;
  say: (line: string) => void;
  signal: AbortSignal;
}

export interface CoexistCheck {
  legacyToZim: number;
  zimToLegacy: number;
  lost: number;
  duplicated: number;
  echoed: number;
  expectedEachWay: number;
}

export const coexistLine = (c: CoexistCheck) =>
  `coexist: ${c.legacyToZim} messages legacy→ZIM, ${c.zimToLegacy} ZIM→legacy, ${c.lost} lost, ` +
  `${c.duplicated} duplicated, ${c.echoed} echoed`;

export const coexistExact = (c: CoexistCheck) =>
  c.lost === 0 &&
  c.duplicated === 0 &&
  c.echoed === 0 &&
  c.legacyToZim === c.expectedEachWay &&
  c.zimToLegacy === c.expectedEachWay;

type Conversation = { key: string; a: string; b: string } | { key: string; group: string };
const CONVERSATIONS: Conversation[] = [
  ...PAIRS.map(([a, b]) => ({ key: `peer:${[a, b].sort().join(':')}`, a, b })),
  { key: `group:${GROUP}`, group: GROUP },
];

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<void> {
  const res = await request(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${new URL(url).pathname} answered ${res.statusCode}: ${text}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

export async function rehearseCoexistence(o: DevCoexistOptions): Promise<CoexistCheck> {
  const stops: Array<() => Promise<unknown>> = [];
  try {
    return await run();
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }

  async function run(): Promise<CoexistCheck> {
    const storeFile = path.join(o.dir, 'coexist.sqlite');
    for (const f of ['', '-wal', '-shm']) rmSync(storeFile + f, { force: true });
    const store: CoexistStore = openSqliteCoexistStore(storeFile);
    stops.push(() => store.close());
    // Secrets of this run only, never printed.
    const apiToken = randomBytes(16).toString('hex');
    const webhookSecret = randomBytes(16).toString('hex');
    const legacy: LegacyServer = await startLegacyServer({
      apiToken,
      webhookSecret,
      retryDelaysMs: [200, 400, 800, 1_600, 3_200],
    });
    stops.push(() => legacy.close());
    const legacyClient = new LegacyClient(legacy.url, apiToken);
    stops.push(() => legacyClient.close());
    const echoWays = await checkLegacyAdapter(legacyClient);
    const receiver: Receiver = await startCoexistReceiver({
      port: 0,
      host: '127.0.0.1',
      taskQueue: DEFAULT_COEXIST_TASK_QUEUE,
      zim: { appId: o.appId, callbackSecret: o.serverSecret },
      legacyWebhookSecret: webhookSecret,
      echoWays,
      store,
      client: o.client,
      syncName: COEXIST_SYNC,
    });
    stops.push(() => receiver.close());
    const connection = await NativeConnection.connect({ address: o.temporalAddress });
    stops.push(() => connection.close());
    const scheduler = new SqliteCallScheduler(path.join(o.dir, 'coexist-budgets.sqlite'), { appId: o.appId });
    stops.push(() => scheduler.close());
    const { worker, zim } = await createCoexistWorker({
      connection,
      namespace: 'default',
      taskQueue: DEFAULT_COEXIST_TASK_QUEUE,
      store,
      zim: { appId: o.appId, serverSecret: o.serverSecret, baseUrl: o.zimUrl },
      legacy: legacyClient,
      scheduler,
    });
    const running = worker.run();
    stops.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await zim.close();
    });
    o.say(`coexistence: legacy server ${legacy.url}, receiver ${receiver.url}, sync "${COEXIST_SYNC}"`);

    // Both sides know the users and the group before capture starts (as after the historical import).
    await zim.userRegister({ UserInfo: USERS.map((UserId) => ({ UserId })) });
    await zim.createGroup({ GroupId: GROUP, GroupOwner: USERS[0]!, UserId: USERS.slice(1) });
    await post(`${legacy.url}/_test/users`, { users: USERS });
    await post(`${legacy.url}/_test/app1/createGroup`, {
      operator: USERS[0],
      groupId: GROUP,
      name: 'Coexistence',
      members: USERS.slice(1),
    });
    await post(`${o.zimUrl}/_emulator/callbacks`, {
      url: `${receiver.url}/zim/callback`,
      retryDelaysMs: [200, 400, 800, 1_600, 3_200],
    });
    stops.push(() => post(`${o.zimUrl}/_emulator/callbacks`, { url: null }));
    await post(`${legacy.url}/_test/webhook`, { url: `${receiver.url}/legacy/events` });
    await startSync(o.client, COEXIST_SYNC, DEFAULT_COEXIST_TASK_QUEUE);

    // Traffic on both sides at once; within a conversation each side sends in order.
    const tag = randomUUID().slice(0, 8);
    const began = Date.now();
    for (let i = 0; i < o.rounds && !o.signal.aborted; i++) {
      await Promise.all(
        CONVERSATIONS.flatMap((c, k) => {
          const from = 'group' in c ? USERS[i % USERS.length]! : i % 2 ? c.a : c.b;
          const target = 'group' in c ? { groupId: c.group } : { to: from === c.a ? c.b : c.a };
          return [
            post(`${legacy.url}/_test/app1/send`, { from, ...target, body: `L ${tag} ${i}.${k}` }),
            post(`${o.zimUrl}/_emulator/sdk/send`, { from, ...target, body: `Z ${tag} ${i}.${k}` }),
          ];
        })
      );
    }
    const expectedEachWay = o.rounds * CONVERSATIONS.length;
    o.say(`coexistence: sent ${expectedEachWay} messages on each side in ${Date.now() - began} ms; waiting for them`);

    const sides = async (c: Conversation) => {
      const inLegacy = (await legacyClient.page(c.key, 0, 1_000)).messages.map((m) => m.body);
      const page =
        'group' in c
          ? await zim.queryGroupMsg({ GroupId: c.group, Limit: 100 })
          : await zim.queryPeerMsg({ FromUserId: c.a, ToUserId: c.b, Limit: 100 });
      return { inLegacy, inZim: page.messages.map((m) => m.msgBody) };
    };
    const mine = (bodies: string[]) => bodies.filter((b) => b.includes(` ${tag} `));
    const until = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      let complete = true;
      for (const c of CONVERSATIONS) {
        const s = await sides(c);
        if (mine(s.inLegacy).length < 2 * o.rounds || mine(s.inZim).length < 2 * o.rounds) complete = false;
      }
      if (complete || Date.now() > until || o.signal.aborted) break;
      await sleep(500);
    }
    // Echoes of the last mirrors are still on their way: let them reach their workflows before the drain.
    await sleep(3_000);
    process.stdout.write(renderSyncStatus(await syncStatus(o.client, COEXIST_SYNC)));
    const stopped = await stopSync(o.client, COEXIST_SYNC, (line) => o.say(`coexistence: ${line}`));
    o.say(
      `coexistence: sync stopped in ${(stopped.tookMs / 1000).toFixed(1)} s, ${stopped.closed} conversations closed`
    );

    // The check, conversation by conversation, on what each side holds.
    const check: CoexistCheck = { legacyToZim: 0, zimToLegacy: 0, lost: 0, duplicated: 0, echoed: 0, expectedEachWay };
    for (const [k, c] of CONVERSATIONS.entries()) {
      const s = await sides(c);
      const count = (bodies: string[], body: string) => bodies.filter((b) => b === body).length;
      for (let i = 0; i < o.rounds; i++) {
        for (const [origin, own, other] of [
          ['L', s.inLegacy, s.inZim],
          ['Z', s.inZim, s.inLegacy],
        ] as const) {
          const body = `${origin} ${tag} ${i}.${k}`;
          const there = count(other, body);
          if (there === 0) check.lost++;
          else if (origin === 'L') check.legacyToZim++;
          else check.zimToLegacy++;
          if (there > 1) check.duplicated += there - 1;
          // Its own side holds it once (it was sent there); more means it was mirrored back.
          if (count(own, body) > 1) check.echoed += count(own, body) - 1;
        }
      }
    }
    return check;
  }
}

/**
 * The receiver over HTTP: what it accepts and hands off, what it refuses (401 with nothing handed off and no
 * payload logged), and 503 while Temporal does not accept the hand-off. The hand-off is a recording stub here, and
 * a Temporal client whose server is unreachable; the end-to-end test covers the real one. Echoes of mirrors the
 * ledger (a real store) holds SENT are settled at the receiver, counted once, with no hand-off.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { request } from 'undici';
import { openSqliteCoexistStore, type CoexistStore } from '../../src/coexist/coexist-store';
import { LEGACY_SIGNATURE_HEADER, LEGACY_TIMESTAMP_HEADER } from '../../src/coexist/legacy-contract';
import { signLegacyEvent } from '../../src/coexist/legacy-signature';
import { temporalHandoff } from '../../src/coexist/receiver/handoff';
import { settleEchoesInStore } from '../../src/coexist/receiver/echo-settling';
import { startReceiver, type Receiver } from '../../src/coexist/receiver/receiver';
import type { SyncEvent } from '../../src/coexist/sync-event';
import { startLegacyServer } from '../../src/legacy-server/server';
import { projectRoot } from '../../src/shared/project-root';
import { signCallback } from '../../src/zim-callbacks';

const APP_ID = 777;
const ZIM_SECRET = 'zim-callback-secret-abc';
const LEGACY_SECRET = 'legacy-secret-def';
const TEXT = 'PRIVATE-BODY-TEXT';
const now = () => Math.floor(Date.now() / 1000);

let nonce = 1000;
function zimSendMsg(over: Record<string, unknown> = {}, secret = ZIM_SECRET) {
  const timestamp = (over.timestamp as number | undefined) ?? now();
  const n = (over.nonce as string | undefined) ?? String(++nonce);
  return {
    appid: String(APP_ID),
    event: 'send_msg',
    nonce: n,
    timestamp,
    signature: signCallback(secret, { timestamp, nonce: n }),
    from_user_id: 'ann',
    conv_type: 0,
    conv_id: 'bob',
    msg_type: 1,
    msg_body: TEXT,
    msg_id: '900000000000000001',
    msg_seq: 3,
    payload: '',
    msg_time: Date.now(),
    send_result: 0,
    ...over,
  };
}

function legacyEvent(id = 'e1') {
  return JSON.stringify({
    eventId: id,
    occurredAt: Date.now(),
    type: 'message.created',
    conversation: { kind: 'group', groupId: 'g1' },
    message: { id: `m-${id}`, seq: 4, from: 'cy', body: TEXT, sentAt: Date.now() },
  });
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  await res.body.dump();
  return res.statusCode;
}

describe('coexistence receiver over HTTP', () => {
  const handed: SyncEvent[] = [];
  const logs: string[] = [];
  const bodies = new Map<string, string>();
  let failHandoff = false;
  let stopped = false;
  let receiver: Receiver;

  before(async () => {
    receiver = await startReceiver({
      zim: { appId: APP_ID, callbackSecret: ZIM_SECRET },
      legacy: { webhookSecret: LEGACY_SECRET, echoWays: ['clientMsgId'] },
      putBody: async (b) => {
        const ref = `ref${bodies.size}`;
        bodies.set(ref, b);
        return ref;
      },
      handoff: async (e) => {
        if (failHandoff) throw new Error('Temporal unavailable');
        handed.push(e);
      },
      log: (l) => logs.push(l),
      accepting: async () => !stopped,
    });
  });
  after(() => receiver.close());
  beforeEach(() => {
    handed.length = 0;
    logs.length = 0;
    failHandoff = false;
    stopped = false;
  });

  const zimUrl = () => `${receiver.url}/zim/callback`;
  const legacyUrl = () => `${receiver.url}/legacy/events`;

  it('hands an authentic SDK message to its conversation, with a body reference and no text', async () => {
    assert.equal(await post(zimUrl(), JSON.stringify(zimSendMsg())), 200);
    assert.equal(handed.length, 1);
    const e = handed[0]!;
    assert.equal(e.conv, 'peer:ann:bob');
    assert.equal(e.kind, 'message');
    assert.equal(bodies.get(e.bodyRef!), TEXT);
    assert.ok(!JSON.stringify(e).includes(TEXT));
  });

  it('accepts a URL-encoded body too', async () => {
    assert.equal(await post(zimUrl(), encodeURIComponent(JSON.stringify(zimSendMsg()))), 200);
    assert.equal(handed.length, 1);
  });

  it('marks a server-API send (source 1) as an echo of the legacy message its ExtendedData names', async () => {
    const cb = zimSendMsg({
      source: 1,
      conv_id: '',
      payload: '{"_mig":{"lid":"lm-7"}}',
      user_list: [{ UserId: 'bob', MsgId: '900000000000000002', MsgSeq: 4 }],
    });
    assert.equal(await post(zimUrl(), JSON.stringify(cb)), 200);
    assert.deepEqual(
      handed.map((e) => [e.kind, e.conv, e.echoOf, e.msgId, e.bodyRef]),
      [['echo', 'peer:ann:bob', 'lm-7', '900000000000000002', undefined]]
    );
  });

  it('drops a failed send and a room message with 200 and nothing handed off', async () => {
    assert.equal(await post(zimUrl(), JSON.stringify(zimSendMsg({ send_result: 660500002 }))), 200);
    assert.equal(await post(zimUrl(), JSON.stringify(zimSendMsg({ conv_type: 1 }))), 200);
    assert.equal(handed.length, 0);
  });

  it('answers 401 to a forged, stale, foreign or replayed ZIM callback, hands nothing off, logs no payload', async () => {
    const replayed = zimSendMsg();
    assert.equal(await post(zimUrl(), JSON.stringify(replayed)), 200);
    handed.length = 0;
    const cases = [
      zimSendMsg({}, 'wrong-secret'),
      zimSendMsg({ timestamp: now() - 600 }),
      zimSendMsg({ timestamp: now() + 600 }),
      zimSendMsg({ appid: '778' }),
      { ...zimSendMsg(), signature: 'x' },
      { ...replayed, msg_body: 'another body under a captured signature' },
    ];
    for (const c of cases) assert.equal(await post(zimUrl(), JSON.stringify(c)), 401, JSON.stringify(c).slice(0, 80));
    assert.equal(await post(zimUrl(), 'not json'), 401);
    assert.equal(handed.length, 0);
    assert.equal(logs.length, cases.length + 1);
    assert.ok(
      logs.every((l) => !l.includes(TEXT) && !l.includes('ann') && /answered 401/.test(l)),
      logs.join('\n')
    );
  });

  it('verifies the legacy HMAC over the raw body, and recognises our own write by its client id', async () => {
    const body = legacyEvent('e1');
    const ts = String(now());
    const signed = (b: string, t = ts, secret = LEGACY_SECRET) => ({
      [LEGACY_TIMESTAMP_HEADER]: t,
      [LEGACY_SIGNATURE_HEADER]: signLegacyEvent(secret, t, b),
    });
    assert.equal(await post(legacyUrl(), body, signed(body)), 200);
    assert.equal(handed[0]?.conv, 'group:g1');
    assert.equal(handed[0]?.kind, 'message');
    handed.length = 0;
    // Tampered body, wrong secret, stale timestamp, replay, no headers: 401.
    assert.equal(await post(legacyUrl(), legacyEvent('e2'), signed(body)), 401);
    assert.equal(await post(legacyUrl(), body, signed(body, ts, 'nope')), 401);
    const old = String(now() - 400);
    assert.equal(await post(legacyUrl(), body, signed(body, old)), 401);
    assert.equal(await post(legacyUrl(), body, signed(body)), 401);
    assert.equal(await post(legacyUrl(), body), 401);
    assert.equal(handed.length, 0);
    assert.ok(logs.every((l) => !l.includes(TEXT)));
    // Our own write (clientMsgId zim:<id>) is an echo; an originTag alone is not, since this adapter only offers ids.
    const echo = JSON.parse(legacyEvent('e3')) as { message: Record<string, unknown> };
    echo.message.clientMsgId = 'zim:900000000000000009';
    echo.message.originTag = 'zim-migrate:900000000000000009';
    const tagOnly = JSON.parse(legacyEvent('e4')) as { message: Record<string, unknown> };
    tagOnly.message.originTag = 'zim-migrate:900000000000000010';
    for (const e of [echo, tagOnly]) {
      const b = JSON.stringify(e);
      assert.equal(await post(legacyUrl(), b, signed(b)), 200);
    }
    assert.deepEqual(
      handed.map((e) => [e.kind, e.echoOf]),
      [
        ['echo', '900000000000000009'],
        ['message', undefined],
      ]
    );
  });

  it('answers 410 once the sync is stopped, storing no body (its sender gives up: nothing would ever settle it)', async () => {
    stopped = true;
    const stored = bodies.size;
    assert.equal(await post(zimUrl(), JSON.stringify(zimSendMsg())), 410);
    const body = legacyEvent('e-stopped');
    const timestamp = String(now());
    const headers = {
      [LEGACY_TIMESTAMP_HEADER]: timestamp,
      [LEGACY_SIGNATURE_HEADER]: signLegacyEvent(LEGACY_SECRET, timestamp, body),
    };
    assert.equal(await post(legacyUrl(), body, headers), 410);
    assert.equal(handed.length, 0);
    assert.equal(bodies.size, stored, 'no body stored for a refused delivery');
  });

  it('answers 503 while the hand-off fails, then 200 to the retry', async () => {
    failHandoff = true;
    const cb = JSON.stringify(zimSendMsg());
    assert.equal(await post(zimUrl(), cb), 503);
    failHandoff = false;
    assert.equal(await post(zimUrl(), cb), 200, 'the same delivery retried is not a replay: it was never accepted');
    assert.equal(handed.length, 1);
  });
});

describe('receiver settling echoes of recorded mirrors in the store', () => {
  const handed: SyncEvent[] = [];
  let failHandoff = false;
  let accepting = true;
  let dir: string;
  let store: CoexistStore;
  let receiver: Receiver;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'receiver-echoes-'));
    store = openSqliteCoexistStore(path.join(dir, 'coexist.sqlite'));
    receiver = await startReceiver({
      zim: { appId: APP_ID, callbackSecret: ZIM_SECRET },
      legacy: { webhookSecret: LEGACY_SECRET, echoWays: ['clientMsgId'] },
      putBody: (b, forMessages) => store.putBody(b, forMessages),
      echoes: settleEchoesInStore(store, 'acme'),
      accepting: async () => accepting,
      handoff: async (e) => {
        if (failHandoff) throw new Error('Temporal unavailable');
        handed.push(e);
      },
      log: () => {},
    });
  });
  after(async () => {
    await receiver.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    handed.length = 0;
    failHandoff = false;
    accepting = true;
  });

  /** ZIM's callback of our mirror of legacy message `lid` (a new nonce each time: a redelivery, not a replay). */
  const zimEcho = (lid: string, msgId: string) =>
    JSON.stringify(
      zimSendMsg({
        source: 1,
        conv_id: '',
        payload: JSON.stringify({ _mig: { lid } }),
        user_list: [{ UserId: 'bob', MsgId: msgId, MsgSeq: 4 }],
      })
    );
  const postZim = (body: string) => post(`${receiver.url}/zim/callback`, body);
  /** The legacy routing event of our mirror of ZIM message `zimId`, signed anew each time. */
  const postLegacyEcho = (zimId: string, eventId: string) => {
    const event = JSON.parse(legacyEvent(eventId)) as { message: Record<string, unknown> };
    event.message.clientMsgId = `zim:${zimId}`;
    const body = JSON.stringify(event);
    const ts = String(now());
    return post(`${receiver.url}/legacy/events`, body, {
      [LEGACY_TIMESTAMP_HEADER]: ts,
      [LEGACY_SIGNATURE_HEADER]: signLegacyEvent(LEGACY_SECRET, ts, body),
    });
  };
  const counted = () => store.echoesSettledByReceivers('acme');

  it('answers the echo of a SENT mirror 200 without a hand-off, and counts it once across redeliveries', async () => {
    await store.markSent('legacy', 'lm-sent', 'peer:ann:bob', '900000000000000020');
    for (let i = 0; i < 3; i++) assert.equal(await postZim(zimEcho('lm-sent', '900000000000000020')), 200);
    await store.markSent('zim', '900000000000000021', 'group:g1', 'm-e-sent');
    for (let i = 0; i < 2; i++) assert.equal(await postLegacyEcho('900000000000000021', 'e-sent'), 200);
    assert.equal(handed.length, 0, 'no Temporal call');
    assert.equal(await counted(), 2, 'each echo once');
    assert.equal(await store.echoSettledBy('lg:msg:m-e-sent'), 'receiver');
    assert.deepEqual(receiver.counts['zim.echo.settled'], 1);
    assert.deepEqual(receiver.counts['zim.echo.seen'], 2);
  });

  it('hands the echo of a mirror not recorded SENT to its workflow, once, and never counts it here', async () => {
    const before = await counted();
    await store.recordIntent('legacy', 'lm-intent', 'peer:ann:bob');
    assert.equal(await postZim(zimEcho('lm-intent', '900000000000000022')), 200);
    assert.deepEqual(
      handed.map((e) => [e.kind, e.echoOf]),
      [['echo', 'lm-intent']]
    );
    // Its workflow settles the row (confirmEcho); a redelivery now finds it SENT: already its workflow's.
    await store.markSent('legacy', 'lm-intent', 'peer:ann:bob', '900000000000000022');
    assert.equal(await postZim(zimEcho('lm-intent', '900000000000000022')), 200);
    assert.equal(handed.length, 1, 'not handed again');
    assert.equal(await counted(), before, 'counted by its workflow only');
    // An echo of a mirror the ledger does not know at all goes to its workflow too.
    assert.equal(await postLegacyEcho('900000000000000023', 'e-unknown'), 200);
    assert.equal(handed.length, 2);
  });

  it('takes up an echo whose hand-off failed afresh; once the sync is stopped, takes only our ZIM echoes', async () => {
    const before = await counted();
    await store.recordIntent('legacy', 'lm-failed', 'peer:ann:bob');
    const cb = zimEcho('lm-failed', '900000000000000024');
    failHandoff = true;
    assert.equal(await postZim(cb), 503);
    failHandoff = false;
    // The tail check settled it meanwhile: the retry is settled here (its workflow never had it).
    await store.markSent('legacy', 'lm-failed', 'peer:ann:bob', '900000000000000024');
    assert.equal(await postZim(cb), 200);
    assert.equal(handed.length, 0);
    assert.equal(await counted(), before + 1);
    accepting = false;
    // The echoes of the stop's repairs (sent after the drain): 200, not 410, and never handed off. One of a SENT
    // mirror is settled here as always; one of a mirror not recorded SENT yet is dropped (its send's answer or its
    // tail check settles the row), as a lost delivery would be.
    await store.markSent('legacy', 'lm-stopped', 'peer:ann:bob', '900000000000000025');
    for (let i = 0; i < 2; i++) assert.equal(await postZim(zimEcho('lm-stopped', '900000000000000025')), 200);
    await store.recordIntent('legacy', 'lm-stopped-intent', 'peer:ann:bob');
    assert.equal(await postZim(zimEcho('lm-stopped-intent', '900000000000000026')), 200);
    assert.equal(handed.length, 0, 'no hand-off once stopped');
    assert.equal(await counted(), before + 2, 'the SENT one counted once');
    assert.equal(receiver.counts['zim.echo.dropped-after-drain'], 1);
    // Everything else is refused: a legacy echo (its sender drops it at once), the app backend's own server send.
    await store.markSent('zim', '900000000000000027', 'group:g1', 'm-e-stopped');
    assert.equal(await postLegacyEcho('900000000000000027', 'e-stopped'), 410);
    assert.equal(await postZim(JSON.stringify(zimSendMsg({ source: 1 }))), 410);
    assert.equal(await counted(), before + 2);
  });
});

describe('receiver with Temporal unreachable', () => {
  it('answers 503 within the hand-off deadline', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:1' });
    const client = new Client({ connection });
    const receiver = await startReceiver({
      zim: { appId: APP_ID, callbackSecret: ZIM_SECRET },
      legacy: { webhookSecret: LEGACY_SECRET, echoWays: ['clientMsgId'] },
      putBody: async () => 'ref',
      handoff: temporalHandoff(client, { taskQueue: 'q', deadlineMs: 1_000 }),
      log: () => {},
    });
    try {
      const started = Date.now();
      assert.equal(await post(`${receiver.url}/zim/callback`, JSON.stringify(zimSendMsg())), 503);
      assert.ok(Date.now() - started < 5_000, `answered in ${Date.now() - started} ms`);
    } finally {
      await receiver.close();
      await connection.close().catch(() => {});
    }
  });
});

describe('zim-migrate receiver', () => {
  it('refuses to start (exit 2) when the legacy adapter offers no echo identification', async () => {
    const legacy = await startLegacyServer({
      apiToken: 'tok-123',
      webhookSecret: 'wh',
      echo: { originTag: false, clientMsgId: false },
    });
    try {
      const env = {
        ...process.env,
        ZIM_APP_ID: '1234',
        ZIM_SERVER_SECRET: '0123456789abcdef0123456789abcdef',
        LEGACY_API_TOKEN: 'tok-123',
        LEGACY_WEBHOOK_SECRET: 'wh',
        LEGACY_API_URL: legacy.url,
        TEMPORAL_ADDRESS: '127.0.0.1:1',
      };
      const bin = path.join(projectRoot(), 'bin', 'zim-migrate.js');
      // Asynchronous: the legacy server answers from this process.
      const run = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [bin, 'receiver', '--port', '0'], { env });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('exit', (status) => resolve({ status, stderr }));
      });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /no echo identification/);
    } finally {
      await legacy.close();
    }
  });
});

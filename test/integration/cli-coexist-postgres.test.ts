/**
 * Coexistence scaled out over one PostgreSQL store: `zim-migrate receiver` (listener only, `--store <url>`) and
 * `zim-migrate receiver --worker-only` (`ZIM_MIGRATE_COEXIST_STORE=<url>`) as two processes that share nothing but
 * the database and Temporal, as on two machines. The receiver stores each body, the worker reads it there and writes
 * the ledger: a message each way arrives once, intact, and the ledger holds both as SENT by the worker. The operator
 * commands read the same store by URL; no SQLite store is made, and the password is only in the environment.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openCoexistStore } from '../../src/coexist/open-coexist-store';
import { startLegacyServer, type LegacyServer } from '../../src/legacy-server/server';
import { ZimClient } from '../../src/zim-client';
import { startZimEmulator, type ZimEmulator } from '../../src/zim-emulator';
import { useLocalPostgres } from '../helpers/local-postgres';
import { BIN, exchangeOneEachWay, startCli, stopChild } from '../helpers/coexist-cli';
import { startTemporalTestEnv, type TemporalTestEnv } from '../helpers/temporal-env';

const exec = promisify(execFile);
const APP_ID = 5151;
const SERVER_SECRET = '0123456789abcdef0123456789abcdef';
const LEGACY_TOKEN = 'pg-legacy-token';
const LEGACY_SECRET = 'pg-webhook-secret';

describe('receiver and worker on separate processes sharing a PostgreSQL store', { timeout: 180_000 }, () => {
  const pg = useLocalPostgres();
  let t: TemporalTestEnv;
  let emulator: ZimEmulator;
  let zim: ZimClient;
  let legacy: LegacyServer;
  let dir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cli-coexist-pg-'));
    t = await startTemporalTestEnv();
    emulator = await startZimEmulator({ appId: APP_ID, serverSecret: SERVER_SECRET, rateLimits: { enabled: false } });
    zim = new ZimClient({ baseUrl: emulator.url, appId: APP_ID, serverSecret: SERVER_SECRET });
    legacy = await startLegacyServer({ apiToken: LEGACY_TOKEN, webhookSecret: LEGACY_SECRET });
  });
  after(async () => {
    for (const c of children) await stopChild(c);
    await legacy?.close();
    await zim?.close();
    await emulator?.stop();
    await t?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('mirrors a message each way exactly once, the body written by one process and read by the other', async () => {
    const url = `${pg.server().url}?schema=coexist_cli`;
    assert.doesNotMatch(url, new RegExp(pg.server().password), 'the URL given holds no password');
    const env = {
      ...process.env,
      ...pg.env(),
      LEGACY_API_TOKEN: LEGACY_TOKEN,
      LEGACY_WEBHOOK_SECRET: LEGACY_SECRET,
      ZIM_APP_ID: String(APP_ID),
      ZIM_SERVER_SECRET: SERVER_SECRET,
      ZIM_BASE_URL: emulator.url,
      ZIM_MIGRATE_BUDGET_DB: path.join(dir, 'budgets.sqlite'),
      TEMPORAL_ADDRESS: t.server.address,
    };
    const common = ['--legacy-api', legacy.url];
    const receiverDir = mkdtempSync(path.join(dir, 'machine-a-'));
    const workerDir = mkdtempSync(path.join(dir, 'machine-b-'));
    const receiver = startCli(
      ['receiver', '--port', '0', ...common, '--store', url, '--sync', 'pg-sync'],
      env,
      /listening at (http:\/\/\S+) /,
      receiverDir
    );
    children.push(receiver.child);
    const worker = startCli(
      ['receiver', '--worker-only', ...common],
      { ...env, ZIM_MIGRATE_COEXIST_STORE: url },
      /(worker only)/,
      workerDir
    );
    children.push(worker.child);
    const receiverUrl = await receiver.line;
    await worker.line;
    assert.match(receiver.output(), /store postgres:\/\/\S+\?schema=coexist_cli\)/, 'the store is named');

    const cli = async (...args: string[]) => (await exec(process.execPath, [BIN, ...args], { env, cwd: dir })).stdout;
    assert.match(await cli('coexist', 'start', '--name', 'pg-sync'), /Sync pg-sync started/);
    await exchangeOneEachWay({
      zim,
      emulator,
      legacyUrl: legacy.url,
      receiverUrl,
      texts: ['from App 1.0 ✓', 'from App 2.0 ✓'],
      why: () => `${receiver.output()}\n${worker.output()}`,
    });

    // The ledger both processes share: each message SENT once, with its id on the other side.
    const store = await openCoexistStore(url, pg.env());
    try {
      const sent = (await store.records()).filter((r) => r.conv === 'peer:ann:bob');
      assert.deepEqual(sent.map((r) => [r.origin, r.state]).sort(), [
        ['legacy', 'SENT'],
        ['zim', 'SENT'],
      ]);
      assert.ok(
        sent.every((r) => r.targetId !== null),
        JSON.stringify(sent)
      );
    } finally {
      await store.close();
    }
    assert.match(
      await cli('coexist', 'divergences', '--store', url),
      /^No divergences in postgres:\/\/\S+\?schema=coexist_cli/
    );
    assert.match(
      (await exec(process.execPath, [BIN, 'coexist', 'parked'], { env: { ...env, ZIM_MIGRATE_COEXIST_STORE: url } }))
        .stdout,
      /^No parked mirrors in postgres:/
    );
    assert.equal(await stopChild(receiver.child), 0, receiver.output());
    assert.equal(await stopChild(worker.child), 0, worker.output());
    for (const d of [dir, receiverDir, workerDir])
      assert.equal(existsSync(path.join(d, 'coexist.sqlite')), false, `no SQLite store made in ${d}`);
  });
});

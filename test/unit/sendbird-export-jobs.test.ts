/**
 * The Sendbird emulator's data export jobs as source-formats.md §1.1 A describes them (window refused past 7 days for
 * messages, scheduled → exporting → done, signed links that expire, fresh on every read), and the connector's
 * export-jobs unit against it: a window's messages split over two jobs come out once each.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startSendbirdEmulator } from '../../src/sendbird-emulator/server';
import { generateWorkspace, MESSAGE_KIND } from '../../src/sendbird-emulator/workspace';
import { RequestPacer } from '../../src/sources/http-fetch';
import { exportJob } from '../../src/sources/sendbird/export-jobs';
import { DEFAULT_MAPPING } from '../../src/sources/sendbird/mapping';
import { buildIdMap, channelMessages, scanExport, type SendbirdExtractConfig } from '../../src/sources/sendbird/units';
import { exportJobUnits } from '../../src/shared/extract-api';
import { tempDir } from '../helpers/exports';

const TOKEN = 'unit-token-0123456789';
const DAY = 86_400_000;

describe('Sendbird emulator: data export jobs', () => {
  it('refuses a messages window over 7 days, walks scheduled → exporting → done, signs links that expire', async () => {
    const ws = generateWorkspace({ seed: 3, users: 40, messages: 300, startMs: Date.UTC(2026, 0, 10) });
    // The jobs' clock is the test's: stepping it, not sleeping, keeps the states certain on a loaded machine.
    let now = Date.UTC(2026, 5, 1);
    const sb = await startSendbirdEmulator({
      workspace: ws,
      apiToken: TOKEN,
      exportJobMs: 300,
      fileUrlTtlMs: 200,
      now: () => now,
    });
    const call = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(sb.url + p, {
        method,
        headers: { 'Api-Token': TOKEN, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    try {
      const start = Date.UTC(2026, 0, 5);
      const tooLong = await call('POST', '/v3/export/messages', { start_ts: start, end_ts: start + 8 * DAY });
      assert.equal(tooLong.status, 400);
      assert.match(String(tooLong.body.message), /end_ts - start_ts/);
      const created = await call('POST', '/v3/export/messages', { start_ts: start, end_ts: start + 7 * DAY });
      assert.equal(created.status, 200);
      assert.equal(created.body.status, 'scheduled');
      assert.equal(created.body.file, undefined);
      const id = String(created.body.request_id);
      now += 180;
      assert.equal((await call('GET', `/v3/export/messages/${id}`)).body.status, 'exporting');
      now += 200;
      const done = await call('GET', `/v3/export/messages/${id}`);
      assert.equal(done.body.status, 'done');
      const link = (done.body.file as { url: string; expires_at: number }).url;
      const tampered = link.replace(/expires=(\d+)/, (_, n: string) => `expires=${Number(n) + 60_000}`);
      assert.equal((await fetch(tampered)).status, 403, 'a changed expiry breaks the signature');
      const zip = await fetch(link);
      assert.equal(zip.status, 200);
      assert.equal(zip.headers.get('content-type'), 'application/zip');
      now += 250;
      assert.equal((await fetch(link)).status, 403, 'the link expired');
      assert.equal(sb.stats.expiredFileUrls, 1);
      const listed = await call('GET', '/v3/export/messages');
      assert.deepEqual(
        (listed.body.exported_data as { request_id: string }[]).map((j) => j.request_id),
        [id]
      );
      assert.deepEqual([...sb.stats.exportJobsCreated.values()], [1]);
      const empty = await call('POST', '/v3/export/users', { start_ts: 0, end_ts: 1000 });
      now += 350;
      assert.equal((await call('GET', `/v3/export/users/${String(empty.body.request_id)}`)).body.status, 'no data');
    } finally {
      await sb.close();
    }
  });

  it('the export-jobs unit: windows downloaded once, a channel spread over windows merged, equal to the whole', async () => {
    const startMs = Date.UTC(2026, 0, 10);
    const ws = generateWorkspace({ seed: 5, users: 60, messages: 3000, startMs });
    const sb = await startSendbirdEmulator({ workspace: ws, apiToken: TOKEN, exportJobMs: 50 });
    try {
      const out = path.join(tempDir('sb-jobs-unit'), 'out');
      // One-day windows, so busy channels spread over several.
      const route = {
        kind: 'export-jobs' as const,
        baseUrl: sb.url,
        fromMs: startMs - 31 * DAY,
        toMs: startMs + 20 * DAY,
        windowDays: 1,
        pollMs: 20,
      };
      const cfg: SendbirdExtractConfig = { outDir: out, route, mapping: DEFAULT_MAPPING, blocks: false };
      const rt = { apiToken: TOKEN, pacer: new RequestPacer(1000), stats: { requests: 0, tooMany: 0, retries: 0 } };
      const cp = { save: () => undefined };
      const units = exportJobUnits(route);
      for (let i = 0; i < units.length; i++) await exportJob(cfg, rt, i, cp);
      const downloads = sb.stats.exportDownloads;
      for (let i = 0; i < units.length; i++) await exportJob(cfg, rt, i, cp); // done: nothing fetched again
      assert.equal(sb.stats.exportDownloads, downloads);
      assert.equal(sb.stats.exportJobsCreated.size, units.length);
      // The export list is read once per data type, not before each job's creation.
      const listReads = [...sb.stats.byRequest]
        .filter(([k]) => /^GET \/v3\/export\/\w+\?/.test(k))
        .reduce((a, [, count]) => a + count, 0);
      assert.equal(listReads, new Set(units.map((u) => u.dataType)).size);
      await scanExport(cfg);
      const lines = readFileSync(path.join(out, '.extract', 'raw', 'channels.ndjson'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { entries?: string[] });
      assert.ok(
        lines.some((l) => (l.entries?.length ?? 0) > 1),
        'some channel spans several windows'
      );
      await buildIdMap(cfg);
      let messages = 0;
      for (let i = 0; i < lines.length; i++)
        messages += (await channelMessages(cfg, rt, i, { save: () => undefined })).messages;
      const files = readdirSync(out).filter((f) => /_messages\./.test(f));
      const ids = files.flatMap((f) =>
        readFileSync(path.join(out, f), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { id: string }).id)
      );
      assert.equal(new Set(ids).size, ids.length, 'no message twice');
      assert.equal(ids.length, messages);
      // Every message but removed ones and admin messages of DMs.
      let expected = 0;
      for (const ch of ws.channels)
        for (let i = 0; i < ch.ts.length; i++)
          if (
            ch.kind[i] !== MESSAGE_KIND.removed &&
            !(ch.is_distinct && ch.members.length === 2 && ch.kind[i] === MESSAGE_KIND.admin)
          )
            expected++;
      assert.equal(messages, expected);
    } finally {
      await sb.close();
    }
  });
});

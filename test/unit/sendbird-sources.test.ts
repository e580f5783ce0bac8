/**
 * The Sendbird connector's pure parts: export files in the shape of source-formats.md §1.2 (hand-written from the
 * documented fields) and malformed ones, the id map, the mapping of messages, and forward paging's de-duplication.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import yazl from 'yazl';
import { openExportArchive } from '../../src/sources/export-archive';
import { fitsZim, IdMap } from '../../src/sources/id-map';
import { ReportBuilder } from '../../src/sources/report';
import { nextMessages, type SendbirdApi } from '../../src/sources/sendbird/api-client';
import { parseExportFile } from '../../src/sources/sendbird/export-files';
import { groupRecord } from '../../src/import-format/schemas';
import { channelKind, DEFAULT_MAPPING, mapGroup, mapMessage, SUBTYPE } from '../../src/sources/sendbird/mapping';
import type { SbChannel, SbMember, SbMessage } from '../../src/sources/sendbird/schemas';
import { tempDir } from '../helpers/exports';

const users = {
  active_users: [
    {
      user_id: 'alice',
      nickname: 'Alice',
      profile_url: 'https://cdn.example.com/a.png',
      metadata: { plan: 'gold' },
      is_active: true,
      has_ever_logged_in: true,
      last_seen_at: '1969-12-31 23:59:59+0000',
      access_token: '',
      session_tokens: [],
    },
  ],
};
const channel = {
  channel_url: 'sendbird_group_channel_12345678_0123456789abcdef0123456789abcdef01234567',
  name: '',
  cover_url: '',
  custom_type: '',
  data: '',
  created_at: 1714536000,
  is_distinct: true,
  is_super: false,
  freeze: false,
  member_count: 2,
  read_receipt: { alice: 1714536001000 },
  members: [
    { user_id: 'alice', nickname: 'Alice', profile_url: '', state: 'joined', role: '' },
    { user_id: 'bob', nickname: 'Bob', profile_url: '', state: 'joined', role: '' },
  ],
};
const message = (over: Partial<Record<string, unknown>>) => ({
  message_id: 4_000_000_001,
  type: 'MESG',
  message: 'hello',
  data: '',
  custom_type: '',
  channel_url: channel.channel_url,
  created_at: 1714536001000,
  updated_at: 0,
  user: { user_id: 'alice', nickname: 'Alice', profile_url: '', metadata: {} },
  is_removed: false,
  mentioned_users: [],
  file: {},
  ...over,
});
const buf = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('Sendbird export files (§1.2)', () => {
  it('reads a users file, a channels file (members as name/image) and a messages file with its channel', () => {
    const u = parseExportFile('users.json', buf(users));
    assert.equal(u.kind, 'users');
    const c = parseExportFile(
      'channels.json',
      buf({
        group_channels: [
          { ...channel, members: [{ user_id: 'alice', name: 'Alice', image: '', is_active: true, is_bot: false }] },
        ],
      })
    );
    assert.equal(c.kind === 'channels' && c.channels[0]!.members![0]!.name, 'Alice');
    const m = parseExportFile('messages/x.json', buf({ messages: [message({})], channel }));
    assert.ok(
      m.kind === 'messages' && m.messages[0]!.message_id === 4_000_000_001 && m.channel.created_at === 1714536000
    );
  });

  it('refuses a messages file without its channel, naming the file and what to do', () => {
    assert.throws(
      () => parseExportFile('messages/lost.json', buf({ messages: [message({})] })),
      /messages\/lost\.json: a messages file without its "channel".*export the channel's messages again/
    );
  });

  it('refuses unknown top-level keys, naming them and the keys it knows', () => {
    assert.throws(
      () => parseExportFile('odd.json', buf({ active_users: [], reactions: [] })),
      /odd\.json: unknown top-level key "reactions"; a Sendbird export file holds "active_users"/
    );
  });

  it('refuses string timestamps, naming the field and saying the file was converted', () => {
    assert.throws(
      () =>
        parseExportFile(
          'messages/x.json',
          buf({ messages: [message({ created_at: '2024-05-01 12:00:00' })], channel })
        ),
      /messages\/x\.json: messages\[0\]\.created_at: .*found "2024-05-01 12:00:00".*Unix number.*JSON export as Sendbird produced it/
    );
  });

  it('refuses truncated JSON and a truncated zip, saying to download again', async () => {
    assert.throws(
      () => parseExportFile('users.json', Buffer.from('{"active_users":[{"user_id":')),
      /users\.json is not valid JSON.*download the export again/
    );
    const zip = new yazl.ZipFile();
    zip.addBuffer(buf(users), 'users.json');
    zip.addBuffer(Buffer.alloc(50_000, 'x'), 'messages/big.json');
    zip.end();
    const chunks: Buffer[] = [];
    for await (const c of zip.outputStream) chunks.push(c as Buffer);
    const whole = Buffer.concat(chunks);
    const dir = tempDir('sb-zip');
    const good = path.join(dir, 'good.zip');
    const cut = path.join(dir, 'cut.zip');
    writeFileSync(good, whole);
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const arc = await openExportArchive(good);
    assert.deepEqual(arc.names, ['messages/big.json', 'users.json']);
    assert.equal(parseExportFile('users.json', await arc.read('users.json')).kind, 'users');
    arc.close();
    await assert.rejects(
      openExportArchive(cut),
      /cut\.zip is not a readable zip .*download was probably cut short.*unzip -t/
    );
  });

  it('reads a directory export recursively', async () => {
    const dir = tempDir('sb-dir');
    mkdirSync(path.join(dir, 'messages'));
    writeFileSync(path.join(dir, 'users.json'), buf(users));
    writeFileSync(path.join(dir, 'messages', 'a.json'), buf({ messages: [], channel }));
    const arc = await openExportArchive(dir);
    assert.deepEqual(arc.names, ['messages/a.json', 'users.json']);
  });
});

describe('id map', () => {
  it('keeps ids that fit, maps the rest deterministically into ZIM ids, and reuses an earlier map', () => {
    const long = 'customer-account-0123456789abcdef-0123456789abcdef-0123456789abcdef-x'; // 70 chars
    const a = new IdMap();
    assert.equal(a.zimId('alice', 'user'), 'alice');
    const mapped = a.zimId(long, 'user');
    assert.ok(fitsZim(mapped, 'user') && mapped.length <= 32 && mapped !== long);
    assert.equal(new IdMap().zimId(long, 'user'), mapped, 'deterministic');
    assert.ok(!fitsZim('legacy/1*x', 'user') && fitsZim(a.zimId('legacy/1*x', 'user'), 'user'));
    assert.ok(!fitsZim('#room', 'group') && a.zimId('#room', 'group').startsWith('~g'));
    const b = IdMap.fromEntries([{ kind: 'user', source: long, zim: 'zz1' }]);
    assert.equal(b.zimId(long, 'user'), 'zz1', 'an earlier map wins');
  });

  it('never gives a mapped id that a kept id holds (salted instead), and refuses a map that conflicts', () => {
    const long = 'x'.repeat(40);
    const taken = new IdMap().zimId(long, 'user');
    const m = new IdMap();
    m.keep(taken, 'user'); // someone's real id happens to equal the hash
    const other = m.zimId(long, 'user');
    assert.notEqual(other, taken);
    assert.ok(fitsZim(other, 'user'));
    const earlier = IdMap.fromEntries([{ kind: 'user', source: long, zim: 'bob' }]);
    assert.throws(() => earlier.keep('bob', 'user'), /fits ZIM but an earlier id map gave it to/);
    assert.throws(
      () =>
        IdMap.fromEntries([
          { kind: 'user', source: 'a'.repeat(40), zim: 'q' },
          { kind: 'user', source: 'b'.repeat(40), zim: 'q' },
        ]),
      /the same ZIM id q/
    );
  });
});

describe('Sendbird message mapping', () => {
  const ctxGroup = { kind: 'group' as const, channelUrl: 'c', groupId: 'g1' };
  const run = (
    m: Record<string, unknown>,
    settings = DEFAULT_MAPPING,
    ctx: Parameters<typeof mapMessage>[1] = ctxGroup
  ) => {
    const report = new ReportBuilder();
    const out = mapMessage(m as SbMessage, ctx, settings, new IdMap(), report, new Map());
    return { out, report: report.entries };
  };

  it('maps text with app data as extended data, files by MIME type, admin messages to the system user, unknown types to custom', () => {
    const text = run(message({ custom_type: 'loc', data: '{"lat":1}' })).out!;
    assert.deepEqual(text.record, {
      id: '4000000001',
      group: 'g1',
      from: 'alice',
      sentAt: 1714536001000,
      type: 'text',
      body: { text: 'hello' },
      extendedData: '{"custom_type":"loc","data":"{\\"lat\\":1}"}',
    });
    const img = run(
      message({
        type: 'FILE',
        message: '',
        file: { url: 'https://f/x.jpg', name: 'x.jpg', type: 'image/jpeg', size: 10 },
      })
    ).out!;
    assert.equal(img.record.type, 'image');
    const pdf = run(
      message({
        type: 'FILE',
        message: '',
        file: { url: 'https://f/x.pdf', file_name: 'x.pdf', file_type: 'application/pdf', file_size: 3 },
      })
    ).out!;
    assert.deepEqual(pdf.record.body, { url: 'https://f/x.pdf', fileName: 'x.pdf', size: 3 });
    const admin = run(message({ type: 'ADMM', user: {} })).out!;
    assert.equal(admin.record.from, DEFAULT_MAPPING.systemUserId);
    const dropped = run(message({ type: 'ADMM', user: {} }), { ...DEFAULT_MAPPING, adminMessages: 'drop' });
    assert.equal(dropped.out, undefined);
    assert.equal(dropped.report['message.admin-dropped']!.count, 1);
    const odd = run(message({ type: 'POLL' })).out!;
    assert.deepEqual(
      [odd.record.type, (odd.record.body as { subType: number }).subType],
      ['custom', SUBTYPE.unknownType]
    );
  });

  it('skips removed messages by default and keeps them when asked; a DM message goes to the other member', () => {
    assert.equal(run(message({ is_removed: true })).out, undefined);
    assert.ok(run(message({ is_removed: true }), { ...DEFAULT_MAPPING, removedMessages: 'keep' }).out);
    const dm = run(message({}), DEFAULT_MAPPING, { kind: 'peer', channelUrl: 'c', pair: ['alice', 'bob'] }).out!;
    assert.deepEqual([dm.kind, dm.record.from, (dm.record as { to: string }).to], ['peer', 'alice', 'bob']);
  });

  it('treats only distinct 2-member channels as one-to-one', () => {
    assert.equal(channelKind({ channel_url: 'a', is_distinct: true }, 2), 'peer');
    assert.equal(channelKind({ channel_url: 'a', is_distinct: false }, 2), 'group');
    assert.equal(channelKind({ channel_url: 'a', is_distinct: true, is_super: true }, 2), 'group');
    assert.equal(channelKind({ channel_url: 'a', is_distinct: true }, 3), 'group');
  });
});

describe('Sendbird frozen channels', () => {
  it('export a frozen channel as a muted group (reported), others without the field; the schema takes both', () => {
    const members = channel.members as unknown as SbMember[];
    const map = (freeze: boolean) => {
      const report = new ReportBuilder();
      const ch = { ...channel, is_distinct: false, name: 'Room', freeze } as unknown as SbChannel;
      return { mapped: mapGroup(ch, members, ['bob'], new IdMap(), report)!, report: report.entries };
    };
    const frozen = map(true);
    assert.equal(frozen.mapped.group.muted, true);
    assert.equal(frozen.mapped.group.owner, 'bob');
    assert.equal(frozen.report['channel.frozen']!.count, 1);
    assert.match(frozen.report['channel.frozen']!.note, /muted group/);
    const open = map(false);
    assert.equal(open.mapped.group.muted, undefined);
    assert.equal(open.report['channel.frozen'], undefined);
    assert.ok(groupRecord.safeParse(frozen.mapped.group).success);
    assert.ok(groupRecord.safeParse(open.mapped.group).success);
    assert.ok(!groupRecord.safeParse({ id: 'g', owner: 'u', muted: 'yes' }).success, 'muted is a boolean');
  });
});

describe('forward message paging', () => {
  it('de-duplicates messages of equal timestamps across pages by message_id', async () => {
    // 450 messages, many sharing a time, served by message_ts inclusive pages of 200.
    const all: SbMessage[] = Array.from({ length: 450 }, (_, i) => ({
      message_id: 1000 + i,
      type: 'MESG',
      created_at: 1_714_536_000_000 + Math.floor(i / 7),
    }));
    const fake = {
      messages: async (_url: string, ts: number) => all.filter((m) => m.created_at >= ts).slice(0, 200),
    } as unknown as SendbirdApi;
    const seen: number[] = [];
    let cursor = { ts: 0, idsAtTs: [] as number[] };
    for (let step = 0; step < 20; step++) {
      const r = await nextMessages(fake, 'c', cursor);
      seen.push(...r.messages.map((m) => m.message_id));
      cursor = r.cursor;
      if (r.done) break;
    }
    assert.deepEqual(
      seen,
      all.map((m) => m.message_id)
    );
  });
});

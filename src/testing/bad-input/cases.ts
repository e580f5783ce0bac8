/**
 * The cases of the bad-input corpus: every reject family of docs/import-format.md, planted among valid records.
 * Some families need their own export (several apps, a small plan's caps), hence several cases.
 */
import { gzipSync } from 'node:zlib';
import { ZIM_PLAN_LIMITS } from '../../import-format/zim-limits';
import type { CorpusCase } from './case-builder';

/** Validation runs "as of" this time, so that ages and retention are fixed. */
export const CORPUS_AS_OF = Date.parse('2026-06-01T00:00:00Z');
const DAY = 86_400_000;
const T = CORPUS_AS_OF - DAY;
const users = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ id: `u${from + i}` }));
const text = (id: string, from: string, to: string, extra: object = {}) => ({
  id,
  from,
  to,
  sentAt: T,
  type: 'text',
  body: { text: `message ${id}` },
  ...extra,
});

export const CASES: CorpusCase[] = [
  {
    name: 'records',
    limits: ZIM_PLAN_LIMITS.pro,
    build(b) {
      b.file('app', 'users.ndjson')
        .ok(...users(8))
        .bad('id.invalid', { id: 'bad/id' })
        .bad('size.field', { id: 'u90', nickname: 'n'.repeat(300) })
        .bad('size.user-extra', { id: 'u91', extendedData: 'x'.repeat(3_000) })
        .bad('record.schema', { id: 'u92', age: 30 })
        .bad('line.not-object', '["u93"]')
        .bad('dup.id', { id: 'u0' })
        .ok({ id: 'u8', nickname: 'Ünïcødé 用户 🙂' });
      b.file('app', 'friends.ndjson')
        .ok({ user: 'u0', friend: 'u1' }, { user: 'u1', friend: 'u0', attributes: { k0: 'work' } })
        .bad('relation.self', { user: 'u2', friend: 'u2' })
        .bad('friend.attributes', { user: 'u0', friend: 'u2', attributes: { colour: 'red' } })
        .bad('ref.unknown-user', { user: 'u0', friend: 'ghost' })
        .bad('dup.relation', { user: 'u0', friend: 'u1' })
        .bad('line.forbidden-key', '{"user":"u0","friend":"u3","__proto__":{"admin":true}}');
      b.file('app', 'blocks.ndjson')
        .ok({ user: 'u1', blocked: 'u2' })
        .bad('relation.self', { user: 'u3', blocked: 'u3' })
        .bad('time.seconds', { user: 'u1', blocked: 'u3', since: 1_700_000_000 })
        .bad('time.future', { user: 'u1', blocked: 'u4', since: CORPUS_AS_OF + DAY });
      b.file('app', 'groups.ndjson')
        .ok({ id: 'g1', owner: 'u0' }, { id: 'g2', owner: 'u1', name: 'Family' })
        .bad('id.group-hash', { id: '#g3', owner: 'u0' })
        .bad('group.attributes', {
          id: 'g4',
          owner: 'u0',
          attributes: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, 'v'])),
        })
        .bad('ref.unknown-user', { id: 'g5', owner: 'ghost' });
      b.file('app', 'group_members.ndjson')
        .ok({ group: 'g1', user: 'u1' }, { group: 'g1', user: 'u2', role: 'admin' })
        .bad('member.role', { group: 'g1', user: 'u3', role: 'owner' })
        .bad('ref.unknown-group', { group: 'g9', user: 'u1' })
        .bad('dup.relation', { group: 'g1', user: 'u1' });
      b.file('app', 'peer_messages.ndjson')
        .ok(text('m0', 'u0', 'u1'), text('m1', 'u1', 'u0', { deletedBy: ['u1'] }))
        .bad('message.type', { ...text('m2', 'u0', 'u1'), type: 'signaling' })
        .bad('time.seconds', { ...text('m3', 'u0', 'u1'), sentAt: 1_700_000_000 })
        .bad('time.future', { ...text('m4', 'u0', 'u1'), sentAt: CORPUS_AS_OF + DAY })
        .bad('time.retention', { ...text('m5', 'u0', 'u1'), sentAt: CORPUS_AS_OF - 40 * DAY })
        .bad('size.message', { ...text('m6', 'u0', 'u1'), body: { text: 'x'.repeat(3_000) } })
        .bad('message.deleted-by', text('m7', 'u0', 'u1', { deletedBy: ['u5'] }))
        .bad('relation.self', text('m8', 'u2', 'u2'))
        .bad('ref.unknown-user', text('m9', 'u0', 'ghost'))
        .bad('dup.id', text('m0', 'u2', 'u3'))
        .bad('line.invalid-json', '{"id":"m10","from":')
        .bad(
          'line.invalid-utf8',
          Buffer.concat([Buffer.from('{"id":"m11","x":"'), Buffer.from([0xc0, 0xaf, 0x22, 0x7d])])
        )
        .bad('line.too-long', JSON.stringify(text('m12', 'u0', 'u1', { body: { text: 'x'.repeat(1_100_000) } })))
        .ok(text('m13', 'u2', 'u3'), text('m14', 'u2', 'u3', { sentAt: T + 1 }));
      b.file('app', 'group_messages.ndjson')
        .ok({ id: 'x1', group: 'g1', from: 'u1', sentAt: T, type: 'text', body: { text: 'hi' } })
        .bad('ref.unknown-group', { id: 'x2', group: 'g9', from: 'u1', sentAt: T, type: 'text', body: { text: 'hi' } });
      b.file('app', 'read_states.ndjson')
        .ok({ user: 'u1', peer: 'u0', lastReadMessage: 'm0' }, { user: 'u2', group: 'g1', lastReadMessage: 'x1' })
        .bad('ref.not-member', { user: 'u3', group: 'g1', lastReadMessage: 'x1' })
        .bad('ref.unknown-message', { user: 'u0', peer: 'u1', lastReadMessage: 'm13' })
        .bad('read.partial', { user: 'u3', peer: 'u2', lastReadMessage: 'm13' });
      // File-level families: each raises one reject for the file; the valid records in them are staged.
      const crlf = [text('m20', 'u3', 'u4'), text('m21', 'u4', 'u3')].map((m) => JSON.stringify(m) + '\r\n').join('');
      b.rawFile(
        'app',
        'peer_messages.002.ndjson',
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(crlf)]),
        ['file.bom', 1],
        ['file.crlf', 1]
      );
      b.valid.peer_messages = (b.valid.peer_messages ?? 0) + 2;
      b.rawFile('app', 'blocks.002.ndjson', Buffer.alloc(0), ['file.empty', null]);
      b.rawFile('app', 'notes.txt', Buffer.from('not an export file\n'), ['file.unknown', null]);
      b.rawFile(
        'app',
        'friends.002.ndjson',
        gzipSync('{"user":"u5","friend":"u6"}\n'),
        ['file.unreadable', null],
        ['file.empty', null]
      );
      // A truncated gzip: the complete lines before the damage are staged, the rest is named by the reject.
      const gz = gzipSync(
        Array.from({ length: 400 }, (_, i) => JSON.stringify(text(`z${i}`, 'u5', 'u6', { sentAt: T + i })) + '\n').join(
          ''
        )
      );
      b.rawFile('app', 'peer_messages.003.ndjson.gz', gz.subarray(0, gz.length - 100), ['file.gzip-corrupt', -1]);
    },
  },
  {
    name: 'several apps',
    limits: ZIM_PLAN_LIMITS.pro,
    build(b) {
      b.file('a', 'users.ndjson').ok(...users(3));
      b.file('a', 'groups.ndjson').ok({ id: 'g1', owner: 'u0' });
      b.file('a', 'peer_messages.ndjson').ok(text('m1', 'u0', 'u1'));
      b.file('b', 'users.ndjson').ok(...users(3));
      b.file('b', 'groups.ndjson').bad('merge.group-collision', { id: 'g1', owner: 'u1' });
      b.file('b', 'peer_messages.ndjson').bad('merge.message-id-collision', text('m1', 'u2', 'u1'));
      b.expect('nousers', 'file.missing-users');
      b.file('nousers', 'friends.ndjson').bad('ref.unknown-user', { user: 'n0', friend: 'n1' });
      b.expect('missing', 'dir.unreadable');
    },
  },
  {
    name: 'plan caps (free plan)',
    limits: ZIM_PLAN_LIMITS.free,
    build(b) {
      // Over the plan's user and group counts: an error for the export as a whole.
      b.file('app', 'users.ndjson').ok(...users(101));
      b.expectExportWide('cap.users');
      b.file('app', 'groups.ndjson').ok(...Array.from({ length: 21 }, (_, i) => ({ id: `g${i}`, owner: 'u0' })));
      b.expectExportWide('cap.groups');
      // Per user and per group, the records past the cap are rejected: the friends with the last ids, the latest
      // joiners (u99 sorts after u2..u21).
      b.file('app', 'friends.ndjson')
        .ok(...Array.from({ length: 20 }, (_, i) => ({ user: 'u1', friend: `u${i + 2}` })))
        .bad('cap.friends', { user: 'u1', friend: 'u99' });
      b.file('app', 'group_members.ndjson')
        .ok(...Array.from({ length: 19 }, (_, i) => ({ group: 'g1', user: `u${i + 1}`, joinedAt: T + i })))
        .bad('cap.group-members', { group: 'g1', user: 'u40', joinedAt: T + 100 });
    },
  },
  {
    name: 'blocklist cap',
    limits: ZIM_PLAN_LIMITS.pro,
    build(b) {
      const padded = (i: number) => `b${String(i).padStart(4, '0')}`;
      b.file('app', 'users.ndjson').ok(...Array.from({ length: 1_002 }, (_, i) => ({ id: padded(i) })));
      b.file('app', 'blocks.ndjson')
        .ok(...Array.from({ length: 1_000 }, (_, i) => ({ user: padded(0), blocked: padded(i + 1) })))
        .bad('cap.blocks', { user: padded(0), blocked: padded(1_001) });
    },
  },
];

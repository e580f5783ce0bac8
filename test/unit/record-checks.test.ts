import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toZimContent } from '../../src/import-format/message-body';
import { peerMessageRecord, type Entity } from '../../src/import-format/schemas';
import type { RuleId } from '../../src/import-format/rules';
import type { RecordIssue } from '../../src/import-format/zim-checks';
import { ZIM_PLAN_LIMITS } from '../../src/import-format/zim-limits';
import { STAGED_COLUMNS } from '../../src/staging/sqlite/load-writer';
import { RECORD_HANDLERS } from '../../src/validate/record-loaders';
import { DAY, NOW } from '../helpers/exports';

/** Runs one record through its entity's handler: the issues reported and the row staged (if any). */
function load(entity: Entity, record: object, opts: { groupIdPrefix?: string } = {}) {
  let issues: RecordIssue[] = [];
  const out: { staged: { row: Record<string, unknown>; status: number } | null } = { staged: null };
  const handler = RECORD_HANDLERS[entity](
    {
      app: 0,
      file: 1,
      check: { limits: ZIM_PLAN_LIMITS.pro, asOfMs: NOW },
      groupIdPrefix: opts.groupIdPrefix ?? '',
      messageIdPrefix: '',
      multiApp: false,
    },
    (_line, _id, found) => {
      issues = found;
      return found.some((i) => i.rule !== 'time.retention') ? null : found.length ? 3 : 0;
    },
    (params) => {
      const row = Object.fromEntries(STAGED_COLUMNS[entity].columns.map((c, i) => [c, params[i]]));
      out.staged = { row, status: row.status as number };
    }
  );
  handler(1, JSON.parse(JSON.stringify(record)) as Record<string, unknown>);
  return { rules: issues.map((i) => i.rule), messages: issues.map((i) => i.message), staged: out.staged };
}

const rulesOf = (entity: Entity, record: object): RuleId[] => load(entity, record).rules;
const msg = (extra: object) => ({
  id: 'm1',
  from: 'a',
  to: 'b',
  sentAt: NOW - DAY,
  type: 'text',
  body: { text: 'hi' },
  ...extra,
});

describe('ids', () => {
  it("accepts ZIM's charset up to 32 bytes, and rejects the rest as id.invalid", () => {
    for (const id of ['u1', 'alice.k@app', 'a b', '!#$%&()+-:;<=.>?@[]^_{}|~', 'x'.repeat(32)])
      assert.deepEqual(rulesOf('users', { id }), [], id);
    for (const id of ['', 'x'.repeat(33), 'a/b', 'ä', "o'neil", 'a,b', 'tab\t'])
      assert.deepEqual(rulesOf('users', { id }), ['id.invalid'], id);
  });

  it('rejects a group id starting with #, and a prefix that makes an id too long', () => {
    assert.deepEqual(rulesOf('groups', { id: '#g', owner: 'a' }), ['id.group-hash']);
    assert.deepEqual(load('groups', { id: 'g'.repeat(30), owner: 'a' }, { groupIdPrefix: 'app_' }).rules, [
      'id.invalid',
    ]);
    assert.equal(load('groups', { id: 'g1', owner: 'a' }, { groupIdPrefix: 'b_' }).staged?.row.id, 'b_g1');
  });
});

describe('times', () => {
  it('stages epoch ms and ISO-8601 with an offset as the same epoch ms', () => {
    assert.equal(load('peer_messages', msg({ sentAt: NOW - DAY })).staged?.row.sent, NOW - DAY);
    assert.equal(load('peer_messages', msg({ sentAt: '2026-05-31T08:00:00+08:00' })).staged?.row.sent, NOW - DAY);
    assert.equal(load('peer_messages', msg({ sentAt: '2026-05-31T00:00:00.000Z' })).staged?.row.sent, NOW - DAY);
  });

  it('rejects ISO without an offset, times that look like seconds, and times in the future', () => {
    assert.deepEqual(rulesOf('peer_messages', msg({ sentAt: '2026-05-31T00:00:00' })), ['record.schema']);
    assert.deepEqual(rulesOf('peer_messages', msg({ sentAt: 1_700_000_000 })), ['time.seconds']);
    assert.deepEqual(rulesOf('peer_messages', msg({ sentAt: NOW + 1000 })), ['time.future']);
    assert.deepEqual(rulesOf('friends', { user: 'a', friend: 'b', since: NOW + 1000 }), ['time.future']);
  });

  it("warns for a message older than the plan's retention and stages it as expired; other times have no window", () => {
    const old = load('peer_messages', msg({ sentAt: NOW - 31 * DAY }));
    assert.deepEqual(old.rules, ['time.retention']);
    assert.match(old.messages[0]!, /31 days old; the pro plan keeps 30 days/);
    assert.equal(old.staged?.status, 3);
    assert.deepEqual(rulesOf('peer_messages', msg({ sentAt: NOW - 29 * DAY })), []);
    assert.deepEqual(rulesOf('users', { id: 'a', createdAt: NOW - 3000 * DAY }), []);
  });
});

describe('sizes', () => {
  it('counts bytes where ZIM counts bytes and characters where it counts characters', () => {
    assert.deepEqual(rulesOf('users', { id: 'a', nickname: 'x'.repeat(256) }), []);
    assert.deepEqual(rulesOf('users', { id: 'a', nickname: 'x'.repeat(257) }), ['size.field']);
    assert.deepEqual(rulesOf('users', { id: 'a', nickname: '王'.repeat(86) }), ['size.field'], '258 bytes');
    assert.deepEqual(rulesOf('groups', { id: 'g', owner: 'a', name: '王'.repeat(50) }), [], '50 characters');
    assert.deepEqual(rulesOf('groups', { id: 'g', owner: 'a', name: '王'.repeat(51) }), ['size.field']);
    assert.deepEqual(rulesOf('users', { id: 'a', extendedData: 'x'.repeat(2049) }), ['size.user-extra']);
  });

  it('limits the built MessageBody.Message, ExtendedData and SearchedContent', () => {
    assert.deepEqual(rulesOf('peer_messages', msg({ body: { text: 'x'.repeat(2048) } })), []);
    assert.deepEqual(
      rulesOf('peer_messages', msg({ body: { text: '🙂'.repeat(513) } })),
      ['size.message'],
      '2052 bytes'
    );
    assert.deepEqual(rulesOf('peer_messages', msg({ extendedData: 'x'.repeat(1025) })), ['size.field']);
    const custom = { type: 'custom', body: { subType: 1, content: 'c', searchableContent: 'x'.repeat(65) } };
    assert.deepEqual(rulesOf('peer_messages', msg(custom)), ['size.field']);
  });
});

describe('shapes and ZIM rules', () => {
  it('rejects unsupported message types, unknown fields and wrong types with the field named', () => {
    assert.deepEqual(rulesOf('peer_messages', msg({ type: 'signaling' })), ['message.type']);
    const unknown = load('users', { id: 'a', avatarURL: 'https://x' });
    assert.deepEqual(unknown.rules, ['record.schema']);
    assert.match(unknown.messages[0]!, /avatarURL/);
    const wrong = load('peer_messages', msg({ sentAt: true }));
    assert.deepEqual(wrong.rules, ['record.schema']);
    assert.match(wrong.messages[0]!, /^sentAt: /);
    assert.deepEqual(rulesOf('peer_messages', msg({ type: 'custom', body: { subType: 201, content: 'c' } })), [
      'record.schema',
    ]);
    assert.deepEqual(rulesOf('peer_messages', msg({ type: 'image', body: { text: 'hi' } })).sort(), [
      'record.schema',
      'record.schema',
      'record.schema',
    ]);
  });

  it('rejects self relations, strangers in deletedBy and attributes ZIM refuses', () => {
    assert.deepEqual(rulesOf('friends', { user: 'a', friend: 'a' }), ['relation.self']);
    assert.deepEqual(rulesOf('blocks', { user: 'a', blocked: 'a' }), ['relation.self']);
    assert.deepEqual(rulesOf('peer_messages', msg({ to: 'a' })), ['relation.self']);
    assert.deepEqual(rulesOf('peer_messages', msg({ deletedBy: ['c'] })), ['message.deleted-by']);
    assert.deepEqual(rulesOf('friends', { user: 'a', friend: 'b', attributes: { k4: 'v' } }), []);
    assert.deepEqual(rulesOf('friends', { user: 'a', friend: 'b', attributes: { k5: 'v' } }), ['friend.attributes']);
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, 'v']));
    assert.deepEqual(rulesOf('groups', { id: 'g', owner: 'a', attributes: eleven }), ['group.attributes']);
  });
});

describe('the ZIM MessageBody', () => {
  const content = (extra: object) => toZimContent(peerMessageRecord.parse(msg(extra)));

  it('is the text itself for text, with ExtendedData when given', () => {
    assert.deepEqual(content({ extendedData: 'e' }), {
      messageType: 1,
      subType: 0,
      body: { Message: 'hi', ExtendedData: 'e' },
    });
  });

  it("is ZIM's media JSON for images, with the source id as Uid", () => {
    const c = content({
      type: 'image',
      body: {
        url: 'https://x/1.jpg',
        fileName: '1.jpg',
        width: 10,
        height: 20,
        size: 5,
        thumbnail: { url: 'https://x/t.jpg', width: 1, height: 2 },
      },
    });
    assert.equal(c.messageType, 11);
    assert.deepEqual(JSON.parse(c.body.Message), {
      Uid: 'm1',
      Origin: { Url: 'https://x/1.jpg', Width: 10, Height: 20 },
      Thumbnail: { Url: 'https://x/t.jpg', Width: 1, Height: 2 },
      FileName: '1.jpg',
      Size: 5,
    });
  });

  it('carries subType and SearchedContent for custom messages, and the type numbers for the rest', () => {
    assert.deepEqual(content({ type: 'custom', body: { subType: 7, content: '{"a":1}', searchableContent: 'loc' } }), {
      messageType: 200,
      subType: 7,
      body: { Message: '{"a":1}' },
      searchedContent: 'loc',
    });
    const media = { url: 'https://x/f', fileName: 'f' };
    assert.equal(content({ type: 'file', body: media }).messageType, 12);
    assert.equal(
      (
        JSON.parse(content({ type: 'audio', body: { ...media, duration: 3 } }).body.Message) as {
          MediaDuration: number;
        }
      ).MediaDuration,
      3
    );
    assert.equal(content({ type: 'video', body: { ...media, duration: 3 } }).messageType, 14);
  });

  it("stages which side deleted the message, so each side's copy can leave it out", () => {
    const row = load('peer_messages', msg({ deletedBy: ['b'] })).staged?.row;
    assert.equal(row?.del_f, 0);
    assert.equal(row?.del_t, 1);
  });
});

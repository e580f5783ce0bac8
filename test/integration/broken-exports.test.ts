/**
 * The corpus of broken exports: each family of bad input is rejected with its file and line, never
 * crashes the validator, and costs none of the valid records around it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Reject } from '../../src/import-format/rejects';
import { RULES } from '../../src/import-format/rules';
import { badInputSummary, runBadInputCorpus } from '../../src/testing/bad-input/corpus';
import { ZIM_PLAN_LIMITS } from '../../src/import-format/zim-limits';
import { DAY, NOW, tempDir, text, users, validate, writeExport, type Line } from '../helpers/exports';

const T = NOW - DAY;
const USERS = users(5);
const msgs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => text(`m${from + i}`, 'u0', 'u1', T + i));

function only(rejects: Reject[], rule: string): Reject {
  const found = rejects.filter((r) => r.rule === rule);
  assert.equal(found.length, 1, `one ${rule} in ${JSON.stringify(rejects, null, 1)}`);
  return found[0]!;
}

async function exportWith(files: Record<string, Line[] | Buffer>) {
  const dir = writeExport(path.join(tempDir('broken'), 'app'), { 'users.ndjson': USERS, ...files });
  return { dir, ...(await validate([dir])) };
}

describe('broken exports', () => {
  it('malformed JSON: rejected at its line, the records around it staged', async () => {
    const { result, rejects } = await exportWith({
      'peer_messages.ndjson': [...msgs(2), '{"id":"m9","from":', ...msgs(2, 2)],
    });
    const r = only(rejects, 'line.invalid-json');
    assert.equal(path.basename(r.file), 'peer_messages.ndjson');
    assert.equal(r.line, 3);
    assert.equal(r.severity, 'error');
    assert.match(r.fix, /one complete JSON object per line/);
    assert.equal(result.entities.peer_messages.ok, 4);
    assert.equal(result.entities.peer_messages.rejected, 1);
    assert.equal(result.errors, 1);
  });

  it('invalid UTF-8: rejected at its line', async () => {
    const bad = Buffer.concat([Buffer.from('{"id":"u9","nickname":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
    const { result, rejects } = await exportWith({ 'users.ndjson': [...USERS, bad, { id: 'u10' }] });
    assert.equal(only(rejects, 'line.invalid-utf8').line, 6);
    assert.equal(result.entities.users.ok, 6);
  });

  it('a BOM and CRLF line endings: read, with one warning each, nothing lost', async () => {
    const crlf = Buffer.from(
      msgs(3)
        .map((m) => JSON.stringify(m) + '\r\n')
        .join('')
    );
    const { result, rejects } = await exportWith({
      'peer_messages.ndjson': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), crlf]),
    });
    assert.equal(only(rejects, 'file.bom').severity, 'warning');
    assert.equal(only(rejects, 'file.crlf').line, 1);
    assert.equal(result.entities.peer_messages.ok, 3);
    assert.equal(result.errors, 0);
  });

  it('a line over 1 MiB: rejected without reading it whole', async () => {
    const huge = JSON.stringify(text('big', 'u0', 'u1', T)).replace('message big', 'x'.repeat(1_100_000));
    const { result, rejects } = await exportWith({ 'peer_messages.ndjson': [...msgs(1), huge, ...msgs(1, 1)] });
    assert.equal(only(rejects, 'line.too-long').line, 2);
    assert.equal(result.entities.peer_messages.ok, 2);
  });

  it('__proto__ and constructor keys: rejected, and nothing is polluted', async () => {
    const { result, rejects } = await exportWith({
      'friends.ndjson': [
        { user: 'u0', friend: 'u1' },
        '{"user":"u0","friend":"u2","__proto__":{"isAdmin":true}}',
        '{"user":"u0","friend":"u3","attributes":{"constructor":"x"}}',
        { user: 'u0', friend: 'u4' },
      ],
    });
    assert.deepEqual(
      rejects.filter((r) => r.rule === 'line.forbidden-key').map((r) => r.line),
      [2, 3]
    );
    assert.equal(result.entities.friends.ok, 2);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  });

  it('wrong types: rejected with the field named', async () => {
    const { result, rejects } = await exportWith({
      'groups.ndjson': [
        { id: 'g1', owner: 'u0' },
        { id: 'g2', owner: 42 },
        { id: 'g3', owner: 'u1', createdAt: 'yesterday' },
      ],
    });
    const schema = rejects.filter((r) => r.rule === 'record.schema');
    assert.deepEqual(
      schema.map((r) => [r.line, r.recordId, r.message.split(':')[0]]),
      [
        [2, 'g2', 'owner'],
        [3, 'g3', 'createdAt'],
      ]
    );
    assert.equal(result.entities.groups.ok, 1);
  });

  it('a missing users file: an error for the export, and every reference to a user rejected', async () => {
    const dir = writeExport(path.join(tempDir('broken'), 'nousers'), { 'peer_messages.ndjson': msgs(2) });
    const { result, rejects } = await validate([dir]);
    assert.equal(only(rejects, 'file.missing-users').line, null);
    assert.deepEqual(
      rejects.filter((r) => r.rule === 'ref.unknown-user').map((r) => [r.line, r.message]),
      [
        [1, 'from u0 and to u1 are not in any users file (or its record was rejected)'],
        [2, 'from u0 and to u1 are not in any users file (or its record was rejected)'],
      ]
    );
    assert.equal(result.entities.peer_messages.rejected, 2);
  });

  it('an empty file and a missing directory: reported, not thrown', async () => {
    const { rejects } = await exportWith({ 'blocks.ndjson': Buffer.alloc(0), 'notes.txt': Buffer.from('hi') });
    assert.equal(only(rejects, 'file.empty').severity, 'warning');
    assert.match(only(rejects, 'file.unknown').file, /notes\.txt$/);
    const missing = await validate([path.join(tempDir('broken'), 'does-not-exist')]);
    assert.equal(only(missing.rejects, 'dir.unreadable').severity, 'error');
  });

  it('a truncated gzip: an error naming where it broke, every complete line before it staged', async () => {
    const lines =
      msgs(3000)
        .map((m) => JSON.stringify(m))
        .join('\n') + '\n';
    const gz = gzipSync(lines);
    const { result, rejects } = await exportWith({ 'peer_messages.ndjson.gz': gz.subarray(0, gz.length - 200) });
    const r = only(rejects, 'file.gzip-corrupt');
    const staged = result.entities.peer_messages.ok;
    assert.ok(staged > 2000 && staged < 3000, `staged ${staged}`);
    assert.equal(r.line, staged + 1);
  });
});

describe('records that other records make invalid', () => {
  it('rejects references to unknown users and groups, and everything that refers to a rejected record', async () => {
    const { result, rejects } = await exportWith({
      'users.ndjson': [...USERS, { id: 'bad/id' }],
      'groups.ndjson': [
        { id: 'g1', owner: 'u0' },
        { id: 'g2', owner: 'ghost' },
      ],
      'group_members.ndjson': [
        { group: 'g1', user: 'u1' },
        { group: 'g2', user: 'u1' },
        { group: 'g9', user: 'u1' },
      ],
      'group_messages.ndjson': [
        { id: 'x1', group: 'g1', from: 'u1', sentAt: T, type: 'text', body: { text: 'hi' } },
        { id: 'x2', group: 'g2', from: 'u1', sentAt: T, type: 'text', body: { text: 'hi' } },
      ],
    });
    assert.deepEqual(
      rejects.filter((r) => r.severity === 'error').map((r) => [path.basename(r.file), r.line, r.rule]),
      [
        ['users.ndjson', 6, 'id.invalid'],
        ['groups.ndjson', 2, 'ref.unknown-user'],
        ['group_members.ndjson', 2, 'ref.unknown-group'],
        ['group_members.ndjson', 3, 'ref.unknown-group'],
        ['group_messages.ndjson', 2, 'ref.unknown-group'],
      ]
    );
    assert.equal(result.entities.group_messages.ok, 1);
  });

  it('keeps the first of duplicate ids as an error, and the first of repeated friendships as a warning', async () => {
    const { result, rejects } = await exportWith({
      'peer_messages.ndjson': [...msgs(2), text('m0', 'u2', 'u3', T)],
      'friends.ndjson': [
        { user: 'u0', friend: 'u1', alias: 'first' },
        { user: 'u0', friend: 'u1', alias: 'second' },
        { user: 'u1', friend: 'u0' },
      ],
    });
    const dup = only(rejects, 'dup.id');
    assert.deepEqual([dup.line, dup.recordId, dup.message], [3, 'm0', 'message id m0 repeats line 1, which is kept']);
    const rel = only(rejects, 'dup.relation');
    assert.deepEqual([rel.severity, rel.line], ['warning', 2]);
    assert.deepEqual(result.entities.friends, { read: 3, ok: 2, expired: 0, merged: 1, skipped: 0, rejected: 0 });
  });

  it('rejects the members past a group cap, and leaves relations of deactivated users out without an error', async () => {
    const many = users(30);
    const { result, rejects } = await (async () => {
      const dir = writeExport(path.join(tempDir('broken'), 'cap'), {
        'users.ndjson': [...many, { id: 'gone', deactivated: true }],
        'groups.ndjson': [{ id: 'g1', owner: 'u0' }],
        'group_members.ndjson': many
          .slice(1, 25)
          .map((u, i) => ({ group: 'g1', user: (u as { id: string }).id, joinedAt: T + i })),
        'friends.ndjson': [
          { user: 'u0', friend: 'gone' },
          { user: 'gone', friend: 'u1' },
          { user: 'u0', friend: 'u1' },
        ],
      });
      return validate([dir], { limits: ZIM_PLAN_LIMITS.free });
    })();
    const capped = rejects.filter((r) => r.rule === 'cap.group-members');
    assert.equal(capped.length, 5, "owner + 19 members fit the free plan's 20");
    assert.deepEqual(
      capped.map((r) => r.recordId),
      ['g1/u20', 'g1/u21', 'g1/u22', 'g1/u23', 'g1/u24']
    );
    assert.match(capped[0]!.message, /has 25 members with its owner; the free plan allows 20/);
    assert.equal(result.entities.friends.skipped, 2);
    assert.equal(result.entities.friends.ok, 1);
    assert.equal(result.errors, 5);
  });
});

describe('the bad-input corpus', () => {
  it('has every family of docs/import-format.md rejected with its rule at its line, and drops nothing valid', async () => {
    const report = await runBadInputCorpus();
    console.log(badInputSummary(report));
    assert.deepEqual(report.differences, []);
    assert.deepEqual(report.rules, Object.keys(RULES).sort(), 'a documented rule the corpus never plants');
    assert.equal(report.rejectedAtLine, report.planted);
    assert.equal(report.validDropped, 0);
    assert.ok(report.valid > 2_000);
  });
});

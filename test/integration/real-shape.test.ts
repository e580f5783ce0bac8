/**
 * `gen --shape real` (issue #16): a messy export shaped like a real one. Built and planned through the CLI from a
 * folder outside the checkout, it must be rejected exactly where its summary says (by file, rule and count), every
 * valid record staged, the odd ids kept, and equal send times kept in the order of the file. Its migration into the
 * emulator: real-shape-migration.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Reject } from '../../src/import-format/rejects';
import type { Entity } from '../../src/import-format/schemas';
import { openStaging } from '../../src/staging';
import {
  generateRealShapeExport,
  LARGEST_ROOM,
  REAL_HISTORY,
  REAL_SHAPE_PLAN_FLAGS,
  realUserId,
  type RealShapeSummary,
} from '../../src/synthetic/real-shape';
import type { ValidationResult } from '../../src/validate/validate-exports';
import { tempDir } from '../helpers/exports';
import { expectedCopy, TYPE_NAMES } from '../helpers/real-shape';

const exec = promisify(execFile);
const BIN = path.join(__dirname, '../../bin/zim-migrate.js');
const cli = (cwd: string, ...args: string[]) =>
  exec(process.execPath, [BIN, ...args], { cwd, maxBuffer: 64 * 1024 * 1024 });
const filesOf = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f))]));
const entityOf = (file: string) => path.basename(file).replace(/\.ndjson(\.gz)?$/, '') as Entity;

describe('gen --shape real', () => {
  it('writes the same bytes for the same options, other bytes for another seed', async () => {
    const root = tempDir('real-gen');
    const opts = { users: 120, peerMessages: 1500, groups: 6, groupMessages: 400 };
    const a = await generateRealShapeExport({ ...opts, out: path.join(root, 'a'), seed: 5 });
    const b = await generateRealShapeExport({ ...opts, out: path.join(root, 'b'), seed: 5 });
    await generateRealShapeExport({ ...opts, out: path.join(root, 'c'), seed: 6 });
    assert.deepEqual({ ...b, dir: '' }, { ...a, dir: '' });
    const files = filesOf(path.join(root, 'a'));
    assert.equal(Object.keys(files).length, 7);
    assert.deepEqual(filesOf(path.join(root, 'b')), files);
    assert.notDeepEqual(filesOf(path.join(root, 'c'))['peer_messages.ndjson'], files['peer_messages.ndjson']);
    // The largest room is the user count when there are fewer than 700.
    assert.equal(a.facts.largestGroup.members, 120);
  });

  describe('validated and planned through the CLI, outside the checkout', () => {
    let root: string;
    let summary: RealShapeSummary;
    let validation: ValidationResult;
    let rejects: Reject[];
    let db: Database.Database;

    before(async () => {
      root = tempDir('real-plan');
      const gen = await cli(root, 'gen', '--shape', 'real', '--out', 'export', '--users', '800', '--seed', '9',
        '--messages', '3000', '--group-messages', '1500', '--json'); // prettier-ignore
      summary = JSON.parse(gen.stdout) as RealShapeSummary;
      const plan = await cli(root, 'plan', 'export', '--out', 'staging.sqlite', ...REAL_SHAPE_PLAN_FLAGS,
        '--exclude-errors', '--rejects', 'rejects.ndjson', '--json'); // prettier-ignore
      validation = (JSON.parse(plan.stdout) as { validation: ValidationResult }).validation;
      rejects = readFileSync(path.join(root, 'rejects.ndjson'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Reject);
      db = new Database(path.join(root, 'staging.sqlite'), { readonly: true });
    });
    after(() => db?.close());

    it('rejects exactly the records the summary declares, by file, rule and count', () => {
      const declared: Record<string, number> = {};
      for (const u of summary.unimportable) {
        const key = `${u.entity} ${u.rule}`;
        declared[key] = (declared[key] ?? 0) + u.count;
      }
      const found: Record<string, number> = {};
      for (const r of rejects) {
        assert.equal(r.severity, 'error', JSON.stringify(r));
        const key = `${entityOf(r.file)} ${r.rule}`;
        found[key] = (found[key] ?? 0) + 1;
      }
      assert.deepEqual(found, declared);
      assert.deepEqual(
        Object.fromEntries(validation.rules.map((r) => [r.rule, r.count])),
        summary.injected,
        'no warning, no other rule'
      );
      assert.ok((summary.injected['id.invalid'] ?? 0) > 0 && (summary.injected['record.schema'] ?? 0) > 0);
      // Every kind the issue names is there.
      const kinds = summary.unimportable.map((u) => `${u.entity}: ${u.kind}`);
      for (const kind of [/users: .*backquote/, /peer_messages: empty text/, /no sender/, /room notice without/])
        assert.ok(
          kinds.some((k) => kind.test(k)),
          `${String(kind)} in ${kinds.join('; ')}`
        );
    });

    it('stages every valid record: nothing valid dropped', () => {
      for (const [entity, counts] of Object.entries(validation.entities) as [
        Entity,
        (typeof validation.entities)[Entity],
      ][]) {
        const declared = summary.unimportable.filter((u) => u.entity === entity).reduce((n, u) => n + u.count, 0);
        assert.equal(counts.read, summary.records[entity] + declared, `${entity} read`);
        assert.equal(counts.rejected, declared, `${entity} rejected`);
        assert.equal(counts.skipped, summary.skipped[entity], `${entity} skipped (deactivated users)`);
        assert.equal(counts.ok, summary.records[entity] - summary.skipped[entity], `${entity} staged`);
        assert.equal(counts.merged + counts.expired, 0, entity);
      }
      const count = (sql: string) => db.prepare(sql).pluck().get() as number;
      assert.equal(count('SELECT count(*) FROM users'), summary.records.users);
      assert.equal(count('SELECT count(*) FROM groups'), summary.records.groups);
      assert.equal(count('SELECT count(*) FROM group_seq'), summary.records.group_messages);
      assert.equal(count('SELECT count(*) FROM peer_messages WHERE status = 0'), summary.records.peer_messages);
    });

    it('keeps the odd ids, the 700-member room, admins, nicknames, deactivated owners and 2015-2019 history', () => {
      const ids = (sql: string) => db.prepare(sql).pluck().all() as string[];
      const users = ids('SELECT id FROM users');
      for (const ch of '|[]{}~ #!%&()+:;<=>?@^$.')
        assert.ok(
          users.some((u) => u.includes(ch)),
          `a user id with ${JSON.stringify(ch)}`
        );
      assert.ok(users.some((u) => Buffer.byteLength(u) === 32));
      const groups = ids('SELECT id FROM groups');
      for (const ch of '|[]{}~ #!&?=:') assert.ok(groups.some((g) => g.includes(ch)), `a group id with ${JSON.stringify(ch)}`); // prettier-ignore
      const sources = [...ids('SELECT src FROM peer_messages'), ...ids('SELECT src FROM group_messages')];
      for (const ch of '`\'"| /\\') assert.ok(sources.some((s) => s.includes(ch)), `a message id with ${JSON.stringify(ch)}`); // prettier-ignore

      const largest = db.prepare('SELECT id, member_count FROM groups ORDER BY member_count DESC LIMIT 1').get() as {
        id: string;
        member_count: number;
      };
      assert.deepEqual(largest, { id: summary.facts.largestGroup.id, member_count: LARGEST_ROOM });
      assert.equal(summary.facts.largestGroup.stagedMembers, LARGEST_ROOM);
      const roles = db
        .prepare(`SELECT role, count(*) AS n, count(nickname) AS nick FROM group_members GROUP BY role`)
        .all();
      const byRole = Object.fromEntries((roles as { role: string; n: number; nick: number }[]).map((r) => [r.role, r]));
      assert.ok(byRole.admin!.n > summary.records.groups / 2, JSON.stringify(byRole));
      assert.ok(byRole.member!.nick > 50, JSON.stringify(byRole));
      assert.equal(
        db.prepare('SELECT count(*) FROM users WHERE deactivated = 1').pluck().get(),
        summary.facts.deactivatedUsers
      );
      const deactivatedOwners = db
        .prepare('SELECT count(*) FROM groups g JOIN users u ON u.id = g.owner WHERE u.deactivated = 1')
        .pluck()
        .get() as number;
      assert.ok(deactivatedOwners >= 1);

      const years = ids(`SELECT DISTINCT strftime('%Y', sent / 1000, 'unixepoch') FROM peer_messages WHERE status = 0`);
      assert.deepEqual(years.sort(), ['2015', '2016', '2017', '2018', '2019']);
      const range = db.prepare('SELECT min(sent) AS lo, max(sent) AS hi FROM group_messages').get() as {
        lo: number;
        hi: number;
      };
      assert.ok(range.lo >= REAL_HISTORY.fromMs && range.hi < REAL_HISTORY.toMs, JSON.stringify(range));
    });

    it('has one very long conversation among many tiny ones, and many equal send times in one conversation', () => {
      const sizes = db
        .prepare('SELECT count(*) AS n FROM peer_messages WHERE status = 0 GROUP BY min(f, t), max(f, t) ORDER BY n')
        .pluck()
        .all() as number[];
      assert.ok(sizes.at(-1)! >= summary.records.peer_messages / 5, `longest ${sizes.at(-1)}`);
      assert.ok(sizes.filter((n) => n <= 2).length > sizes.length / 3, `tiny: ${sizes.filter((n) => n <= 2).length}/${sizes.length}`); // prettier-ignore
      assert.ok(summary.facts.longestTie.messages >= 50, JSON.stringify(summary.facts.longestTie));
      const ties = db
        .prepare(
          'SELECT count(*) AS n FROM peer_messages WHERE status = 0 GROUP BY f, t, sent HAVING n > 1 ORDER BY n DESC'
        )
        .pluck()
        .all() as number[];
      assert.ok(ties.length > 100, `${ties.length} send times shared`);
    });

    it('keeps messages with equal send times in the order of the file', async () => {
      const outOfOrder = (sql: string) => db.prepare(sql).pluck().get() as number;
      // Adjacent rows of one conversation copy (or one room's history) with the same time: the file's order.
      const peer = outOfOrder(`
        SELECT count(*) FROM peer_copies a JOIN peer_copies b ON b.id = a.id + 1
        JOIN peer_messages ma ON ma.id = a.msg JOIN peer_messages mb ON mb.id = b.msg
        WHERE a.owner = b.owner AND a.peer = b.peer AND ma.sent = mb.sent AND (ma.file, ma.line) > (mb.file, mb.line)`);
      const group = outOfOrder(`
        SELECT count(*) FROM group_seq a JOIN group_seq b ON b.id = a.id + 1
        JOIN group_messages ma ON ma.id = a.msg JOIN group_messages mb ON mb.id = b.msg
        WHERE a.grp = b.grp AND ma.sent = mb.sent AND (ma.file, ma.line) > (mb.file, mb.line)`);
      assert.deepEqual({ peer, group }, { peer: 0, group: 0 });
      // The longest run of equal times, read back as the migration reads it.
      const [owner, peerId] = [realUserId(0), realUserId(1)];
      const store = await openStaging(path.join(root, 'staging.sqlite'));
      const staged = (await store.ownerConversations(owner)).get(peerId)!;
      await store.close();
      const text = (m: (typeof staged)[number]) => (m.type === 1 ? m.body.Message : TYPE_NAMES[m.type]);
      assert.deepEqual(
        staged.map((m) => [m.from, m.sentTime, text(m)]),
        expectedCopy(path.join(root, 'export'), owner, peerId)
      );
    });

    it('is refused by the default plan: 30 days of retention, 200 members per group', async () => {
      const run = await cli(root, 'validate', 'export', '--rejects', 'default-rejects.ndjson', '--json').catch(
        (err: { stdout: string; code: number }) => {
          assert.equal(err.code, 1);
          return err;
        }
      );
      const result = JSON.parse(run.stdout) as ValidationResult;
      const rule = (id: string) => result.rules.find((r) => r.rule === id)?.count ?? 0;
      assert.equal(rule('time.retention'), summary.records.peer_messages + summary.records.group_messages);
      assert.ok(rule('cap.group-members') >= LARGEST_ROOM - 200, `${rule('cap.group-members')}`);
    });
  });
});

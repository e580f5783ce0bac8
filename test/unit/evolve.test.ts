import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readManifest } from '../../src/import-format/manifest';
import { deletionRecord } from '../../src/import-format/schemas';
import type { ChangeKind } from '../../src/catch-up/change-kinds';
import { evolveExport, EvolveError } from '../../src/synthetic/evolve';
import { generateExport } from '../../src/synthetic/generate';
import { tempDir, validate } from '../helpers/exports';

const END = Date.parse('2026-05-20T00:00:00Z');
const UNTIL = Date.parse('2026-05-21T00:00:00Z');
const RECORD_FILES = ['users', 'friends', 'blocks', 'groups', 'group_members', 'peer_messages', 'group_messages'];

type Rec = Record<string, unknown>;
/** gen writes a tenth of its times as ISO-8601. */
const ms = (v: unknown) => (typeof v === 'string' ? Date.parse(v) : (v as number));
const lines = (dir: string, entity: string): Rec[] =>
  readFileSync(path.join(dir, `${entity}.ndjson`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Rec);

/** Each file's key, as a catch-up round identifies a record. */
const KEY: Record<string, (r: Rec) => string> = {
  users: (r) => String(r.id),
  friends: (r) => [r.user, r.friend].join('|'),
  blocks: (r) => [r.user, r.blocked].join('|'),
  groups: (r) => String(r.id),
  group_members: (r) => [r.group, r.user].join('|'),
  peer_messages: (r) => String(r.id),
  group_messages: (r) => String(r.id),
};

/** The earlier export with an incremental one applied: upserts by key, tombstones delete (a group with its own). */
function apply(earlier: string, delta: string): Record<string, Map<string, Rec>> {
  const state: Record<string, Map<string, Rec>> = {};
  for (const entity of RECORD_FILES) {
    state[entity] = new Map(lines(earlier, entity).map((r) => [KEY[entity]!(r), r]));
    for (const r of lines(delta, entity)) state[entity].set(KEY[entity]!(r), r);
  }
  for (const raw of lines(delta, 'deletions')) {
    const t = deletionRecord.parse(raw);
    const { entity, at: _at, ...key } = t;
    const k = KEY[entity]!(key);
    assert.ok(state[entity]!.has(k), `tombstone of a record the earlier export did not hold: ${JSON.stringify(t)}`);
    state[entity]!.delete(k);
    if (t.entity === 'groups')
      for (const e of ['group_members', 'group_messages'])
        for (const [rk, r] of state[e]!) if (r.group === t.id) state[e]!.delete(rk);
  }
  return state;
}

async function earlierExport(): Promise<string> {
  const dir = path.join(tempDir('evolve'), 'app');
  await generateExport({ out: dir, users: 300, seed: 5, endMs: END, groups: 12 });
  return dir;
}

describe('gen --evolve', () => {
  it('writes a later full export, and an incremental one that brings the earlier export to it exactly', async () => {
    const earlier = await earlierExport();
    const root = tempDir('evolved');
    const full = await evolveExport({
      from: earlier,
      out: path.join(root, 'full'),
      seed: 9,
      incremental: false,
      untilMs: UNTIL,
    });
    const delta = await evolveExport({
      from: earlier,
      out: path.join(root, 'delta'),
      seed: 9,
      incremental: true,
      untilMs: UNTIL,
    });
    assert.deepEqual(full.changes, delta.changes);
    const kinds = Object.entries(full.changes) as [ChangeKind, number][];
    assert.deepEqual(
      kinds.filter(([kind, n]) => n === 0 && kind !== 'messages.late').map(([kind]) => kind),
      [],
      'every kind of change is present'
    );
    const applied = apply(earlier, delta.dir);
    for (const entity of RECORD_FILES) {
      const want = lines(full.dir, entity)
        .map((r) => JSON.stringify(r))
        .sort();
      assert.deepEqual([...applied[entity]!.values()].map((r) => JSON.stringify(r)).sort(), want, entity);
    }
    assert.deepEqual(readManifest(delta.dir), { kind: 'incremental', sinceMs: END, untilMs: UNTIL });
    assert.deepEqual(readManifest(full.dir), { kind: 'full', untilMs: UNTIL });
  });

  it("adds history only after each conversation's newest message, within the watermarks; the later export validates", async () => {
    const earlier = await earlierExport();
    const out = path.join(tempDir('evolved'), 'later');
    await evolveExport({ from: earlier, out, seed: 3, incremental: false, untilMs: UNTIL });
    const newest = new Map<string, number>();
    const pair = (r: Rec) => [r.from, r.to].sort().join('|');
    for (const r of lines(earlier, 'peer_messages'))
      newest.set(pair(r), Math.max(newest.get(pair(r)) ?? 0, ms(r.sentAt)));
    const earlierIds = new Set(lines(earlier, 'peer_messages').map((r) => r.id));
    const added = lines(out, 'peer_messages').filter((r) => !earlierIds.has(r.id));
    assert.ok(added.length > 0);
    for (const r of added) {
      const t = ms(r.sentAt);
      assert.ok(t > END && t <= UNTIL, `${String(r.id)} at ${t} outside the round`);
      assert.ok(t > (newest.get(pair(r)) ?? 0), `${String(r.id)} is not after its conversation's newest`);
    }
    const { result } = await validate([out], { asOfMs: UNTIL + 1000 });
    assert.equal(result.errors, 0);
  });

  it('adds late messages on request, and is deterministic', async () => {
    const earlier = await earlierExport();
    const root = tempDir('evolved');
    const a = await evolveExport({
      from: earlier,
      out: path.join(root, 'a'),
      seed: 4,
      incremental: true,
      untilMs: UNTIL,
      late: 3,
    });
    await evolveExport({
      from: earlier,
      out: path.join(root, 'b'),
      seed: 4,
      incremental: true,
      untilMs: UNTIL,
      late: 3,
    });
    assert.equal(a.changes['messages.late'], 3);
    assert.equal(lines(a.dir, 'peer_messages').filter((r) => ms(r.sentAt) < END).length, 3);
    for (const f of [...RECORD_FILES, 'deletions'])
      assert.equal(
        readFileSync(path.join(root, 'a', `${f}.ndjson`), 'utf8'),
        readFileSync(path.join(root, 'b', `${f}.ndjson`), 'utf8')
      );
  });

  it('changes the share of records it is told to (--change), and records each change when asked', async () => {
    const earlier = await earlierExport();
    const root = tempDir('evolved');
    const at = (change: number) =>
      evolveExport({
        from: earlier,
        out: path.join(root, String(change)),
        seed: 2,
        incremental: true,
        untilMs: UNTIL,
        change,
        keepRecord: true,
      });
    const [few, many] = [await at(0.02), await at(0.2)];
    // 300 users: new accounts are the share of them (of those counted so far, so a little more at 20%).
    assert.equal(few.changes['users.added'], 6);
    assert.ok(many.changes['users.added'] >= 60 && many.changes['users.added'] <= 80, `${many.changes['users.added']}`);
    assert.ok(many.changes['users.profile'] > 5 * few.changes['users.profile']);
    assert.equal(few.record!.usersAdded.length, 6);
    assert.equal(many.record!.membersJoined.length, many.changes['members.joined']);
    assert.equal(
      (await evolveExport({ from: earlier, out: path.join(root, 'plain'), seed: 2, incremental: true, untilMs: UNTIL }))
        .record,
      undefined,
      'no record unless asked (gen --json prints the summary)'
    );
  });

  it('refuses an incremental export as its base, and a watermark not after the earlier one', async () => {
    const earlier = await earlierExport();
    const root = tempDir('evolved');
    await assert.rejects(
      evolveExport({ from: earlier, out: path.join(root, 'x'), seed: 1, incremental: false, untilMs: END - 1 }),
      (err: Error) => err instanceof EvolveError && /must be after the earlier one's.*--until/.test(err.message)
    );
    writeFileSync(path.join(earlier, 'export.json'), JSON.stringify({ kind: 'incremental', since: 1, until: 2 }));
    await assert.rejects(
      evolveExport({ from: earlier, out: path.join(root, 'y'), seed: 1, incremental: false, untilMs: UNTIL }),
      /is an incremental export; evolve a full one/
    );
  });
});

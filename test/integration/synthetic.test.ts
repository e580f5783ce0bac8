import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { generateExport } from '../../src/synthetic/generate';
import { DAY, NOW, tempDir, validate } from '../helpers/exports';

const END = NOW - DAY;
/** blocks.ndjson of 120 users, seed 5, before small exports got blocks drawn for them (unchanged since). */
const LARGER_BLOCKS_SHA256 = '1a9fdae5997a2d85';
const filesOf = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f))]));

describe('gen', () => {
  it('writes the same bytes for the same options, plain or gzip, and other bytes for another seed', async () => {
    const root = tempDir('gen');
    const opts = { users: 120, peerMessages: 2000, endMs: END };
    await generateExport({ ...opts, out: path.join(root, 'a'), seed: 5 });
    await generateExport({ ...opts, out: path.join(root, 'b'), seed: 5 });
    await generateExport({ ...opts, out: path.join(root, 'c'), seed: 6 });
    await generateExport({ ...opts, out: path.join(root, 'gz1'), seed: 5, gzip: true });
    await generateExport({ ...opts, out: path.join(root, 'gz2'), seed: 5, gzip: true });
    const a = filesOf(path.join(root, 'a'));
    assert.deepEqual(Object.keys(a).sort(), [
      'blocks.ndjson',
      'friends.ndjson',
      'group_members.ndjson',
      'group_messages.ndjson',
      'groups.ndjson',
      'peer_messages.ndjson',
      'users.ndjson',
    ]);
    assert.deepEqual(filesOf(path.join(root, 'b')), a);
    assert.notDeepEqual(filesOf(path.join(root, 'c'))['peer_messages.ndjson'], a['peer_messages.ndjson']);
    const gz = filesOf(path.join(root, 'gz1'));
    assert.deepEqual(filesOf(path.join(root, 'gz2')), gz);
    assert.deepEqual(gunzipSync(gz['peer_messages.ndjson.gz']!), a['peer_messages.ndjson']);
  });

  it('is realistic where it matters: several scripts, media, one-sided deletions, both time formats', async () => {
    const dir = path.join(tempDir('gen'), 'x');
    const summary = await generateExport({ out: dir, users: 200, seed: 1, peerMessages: 5000, endMs: END });
    const text = readFileSync(path.join(dir, 'peer_messages.ndjson'), 'utf8');
    for (const [script, re] of Object.entries({
      cjk: /[\u4e00-\u9fff]/,
      arabic: /[\u0600-\u06ff]/,
      hebrew: /[\u0590-\u05ff]/,
      emoji: /\p{Extended_Pictographic}/u,
    }))
      assert.match(text, re, script);
    const messages = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; sentAt: unknown; deletedBy?: string[]; from: string; to: string });
    assert.equal(messages.length, summary.records.peer_messages);
    const types = new Set(messages.map((m) => m.type));
    assert.deepEqual([...types].sort(), ['audio', 'custom', 'file', 'image', 'text', 'video']);
    assert.ok(messages.some((m) => m.deletedBy?.length === 1 && m.deletedBy[0] === m.to));
    assert.ok(messages.some((m) => typeof m.sentAt === 'string') && messages.some((m) => typeof m.sentAt === 'number'));
    // Power law: the busiest pair holds many times the median conversation.
    const sizes = new Map<string, number>();
    for (const m of messages) {
      const key = [m.from, m.to].sort().join('|');
      sizes.set(key, (sizes.get(key) ?? 0) + 1);
    }
    const sorted = [...sizes.values()].sort((x, y) => x - y);
    assert.ok(sorted.at(-1)! > 20 * sorted[Math.floor(sorted.length / 2)]!, `sizes ${sorted.slice(-3).join(',')}`);
  });

  it("gives a small export (dev's 30-user sample) some blocks, valid ones, and leaves larger exports' blocks alone", async () => {
    const root = tempDir('gen');
    for (const users of [6, 30]) {
      const dir = path.join(root, `small-${users}`);
      const summary = await generateExport({ out: dir, users, seed: 1, endMs: END });
      assert.ok(summary.records.blocks > 0, `${users} users: no blocks`);
      const { result, rejects } = await validate([dir]);
      assert.equal(result.entities.blocks.ok, summary.records.blocks);
      assert.ok(!rejects.some((r) => r.file.endsWith('blocks.ndjson')), `${users} users: a reject in blocks`);
    }
    // 120 users drew blockers of their own: those blocks are what they were.
    const dir = path.join(root, 'larger');
    await generateExport({ out: dir, users: 120, seed: 5, peerMessages: 2000, endMs: END });
    assert.equal(
      createHash('sha256')
        .update(readFileSync(path.join(dir, 'blocks.ndjson')))
        .digest('hex')
        .slice(0, 16),
      LARGER_BLOCKS_SHA256
    );
  });

  it('injects bad records that the validator rejects one for one, dropping no valid record', async () => {
    const dir = path.join(tempDir('gen'), 'bad');
    const summary = await generateExport({
      out: dir,
      users: 150,
      seed: 3,
      peerMessages: 3000,
      badRecords: 26,
      endMs: END,
    });
    const { result, rejects } = await validate([dir], { workerThresholdBytes: 0 });
    const errors = Object.fromEntries(result.rules.filter((r) => r.severity === 'error').map((r) => [r.rule, r.count]));
    assert.deepEqual(errors, summary.injected);
    assert.equal(
      Object.values(summary.injected).reduce((a, b) => a + b, 0),
      26
    );
    assert.equal(result.entities.peer_messages.ok, summary.records.peer_messages);
    assert.equal(result.entities.peer_messages.rejected, 26);
    // Parsed in two parts on worker threads, and still the later of two equal ids is the one rejected.
    const dup = rejects.find((r) => r.rule === 'dup.id')!;
    assert.match(dup.message, new RegExp(`repeats line ${dup.line! - 1},`));
  });
});

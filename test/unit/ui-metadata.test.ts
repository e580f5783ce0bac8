import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STAGE_ACTION, STAGES } from '../../src/shared/stages';
import {
  entitySummary,
  escapeMarkdown,
  migrationStartMetadata,
  oneLine,
  renderProgressMarkdown,
  stageSummary,
  thousands,
} from '../../src/shared/ui-metadata';
import type { MigrationProgress, StageProgress } from '../../src/shared/workflow-api';

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

function progress(overrides: Partial<MigrationProgress> = {}): MigrationProgress {
  const stages: StageProgress[] = STAGES.map((stage, i) => ({
    stage,
    status: i < 2 ? 'done' : i < 5 ? 'running' : 'pending',
    planned: 1_234_567 * i,
    done: 1_000 * i,
    failed: i === 4 ? 3 : 0,
    skipped: i === 2 ? 7 : 0,
    calls: 99_999,
    callsPerSecond: 19.6,
    budget: 20,
    action: STAGE_ACTION[stage],
  }));
  return { migrationId: 'acme', status: 'running', startedAt: 0, stages, etaSeconds: 4_321, ...overrides };
}

describe('what the Temporal UI shows', () => {
  it('renders the progress table: elapsed time and ETA, one row per stage with its counts and rate', () => {
    const md = renderProgressMarkdown(progress({ elapsedSeconds: 125, pausedSeconds: 30, rateWindowSeconds: 30 }));
    const lines = md.split('\n');
    assert.match(
      lines[0]!,
      /^\*\*RUNNING\*\* · 2 of 9 stages finished · 36,010 of 44,444,412 records settled, 3 failed · elapsed 2m 05s \(paused 30s\) · ETA 1h 12m$/
    );
    const rows = lines.filter((l) => l.startsWith('| ') && !l.startsWith('| :'));
    assert.equal(rows.length, 1 + STAGES.length);
    const cells = (l: string) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.replace(/\u2007/g, '').trim());
    assert.deepEqual(cells(rows[0]!), ['Stage', 'Status', 'Planned', 'Done', 'Failed', 'Skipped', 'Calls/s']);
    assert.deepEqual(cells(rows[5]!), ['peer-messages', 'running', '4,938,268', '4,000', '3', '0', '19.6/20']);
    assert.deepEqual(cells(rows[3]!), ['friends', 'running', '2,469,134', '2,000', '0', '7', '19.6/20']);
    assert.deepEqual(cells(rows[7]!), ['group-messages', 'pending', '7,407,402', '6,000', '0', '0', ''], 'no rate');
    assert.match(
      md,
      /Calls\/s: sent over the last 30 s \/ budget, of AddFriends \(friends\), AddUsersToBlacklist \(blocks\), ImportPeerMsg \(peer-messages\)\./
    );
    assert.match(md, /`zim-migrate status acme --watch`/);
    assert.doesNotMatch(md, /99,999|Paused/, 'calls and a pause line stay out');
  });

  it('says a migration is paused and why, and shows its paused stages', () => {
    const paused = progress({ status: 'paused', pausedReason: 'peak\nhours <img src=x> | *now*' });
    paused.stages = paused.stages.map((s) => (s.status === 'running' ? { ...s, status: 'paused' } : s));
    const md = renderProgressMarkdown(paused);
    assert.match(md, /^\*\*PAUSED\*\*/);
    assert.ok(md.includes('**Paused:** peak hours \\<img src=x\\> \\| \\*now\\*'), md);
    assert.match(md, /\| peer-messages\u2007 \| paused\u2007 \|/);
    assert.match(md, /\| verify\u2007 \| pending\u2007 \|/);
  });

  it('escapes operator text into one inert line of bounded length', () => {
    assert.equal(escapeMarkdown('a_b [c](http://x) `d`'), 'a\\_b \\[c\\]\\(http://x\\) \\`d\\`');
    const long = escapeMarkdown('x'.repeat(500));
    assert.equal(long.length, 200);
    assert.ok(long.endsWith('…'));
  });

  it('keeps summaries on one line within 200 UTF-8 bytes', () => {
    assert.equal(stageSummary('acme', 'peer-messages'), 'Stage peer-messages of ZIM migration acme');
    assert.equal(entitySummary('acme', 'peer-history', 'u_1'), 'One-to-one history of owner u_1 (migration acme)');
    assert.equal(entitySummary('acme', 'group-setup', 'g1'), 'Setup of group g1 (migration acme)');
    assert.equal(entitySummary('acme', 'group-history', 'g1'), 'History of group g1 (migration acme)');
    const cut = oneLine(`owner ${'用'.repeat(100)}\nend`);
    assert.ok(utf8(cut) <= 200, `${utf8(cut)} bytes`);
    assert.ok(cut.endsWith('…') && !cut.includes('\n'));
    assert.equal(oneLine('  a \n b  '), 'a b');
    assert.equal(oneLine('é'.repeat(100)), 'é'.repeat(100), 'exactly 200 bytes fits');
  });

  it('describes the migration at start: name, staging file, stages', () => {
    const m = migrationStartMetadata({ migrationId: 'acme', stagingPath: '/data/acme.sqlite', stages: STAGES });
    assert.equal(m.staticSummary, 'ZIM migration acme');
    assert.match(m.staticDetails, /Staging: `\/data\/acme\.sqlite`/);
    assert.match(m.staticDetails, /Stages: accounts → profiles → .* → verify/);
  });

  it('groups thousands without Intl', () => {
    assert.deepEqual([0, 999, 1_000, 1_234_567].map(thousands), ['0', '999', '1,000', '1,234,567']);
  });
});

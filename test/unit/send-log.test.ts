import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { jsonSendLog, rowSendLog } from '../../src/rate-limit/send-log';

describe('the call schedule send log', () => {
  it('answers every send exactly as the JSON log it replaced, across budget changes and keys', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            key: fc.constantFrom('', 'g1', 'g2'),
            gapMs: fc.integer({ min: 0, max: 400 }),
            calls: fc.integer({ min: 1, max: 5 }),
            ms: fc.integer({ min: 100, max: 1500 }),
          }),
          { maxLength: 60 }
        ),
        (sends) => {
          const rows = rowSendLog(new Database(':memory:'));
          const json = jsonSendLog(new Database(':memory:'));
          let now = 1_000_000;
          for (const s of sends) {
            now += s.gapMs;
            const window = { calls: s.calls, ms: s.ms };
            assert.equal(
              rows.tryRecord(1, 'AddFriends', s.key, now, window),
              json.tryRecord(1, 'AddFriends', s.key, now, window)
            );
          }
        }
      ),
      { numRuns: 300 }
    );
  });

  it('keeps only the last N sends however many it has seen', () => {
    const db = new Database(':memory:');
    const log = rowSendLog(db);
    for (let i = 0; i < 5_000; i++) log.tryRecord(1, 'ImportPeerMsg', '', i, { calls: 20, ms: 1 });
    assert.equal((db.prepare('SELECT count(*) AS n FROM send_log').get() as { n: number }).n, 20);
  });
});

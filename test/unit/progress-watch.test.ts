import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProgressPrinter, watchOutputFor, type WatchOutput } from '../../src/cli/progress-watch';
import type { MigrationProgress, StageProgress } from '../../src/shared/workflow-api';

const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);

function stage(
  name: StageProgress['stage'],
  status: StageProgress['status'],
  done: number,
  planned = 100
): StageProgress {
  return { stage: name, status, planned, done, failed: 0, skipped: 0, calls: done };
}

function progress(stages: StageProgress[], extra: Partial<MigrationProgress> = {}): MigrationProgress {
  return { migrationId: 'acme', status: 'running', startedAt: T0, stages, ...extra };
}

/** A printer on a fake clock; `at(s, p)` shows progress `p` at T0 + s seconds and returns what was printed. */
function rig(output: WatchOutput, everyMs = 30_000) {
  let now = T0;
  const printed: string[] = [];
  const printer = new ProgressPrinter({ output, everyMs, now: () => now, write: (text) => printed.push(text) });
  return {
    printed,
    at(seconds: number, p: MigrationProgress) {
      now = T0 + seconds * 1000;
      const before = printed.length;
      printer.show(p);
      return printed.slice(before).join('');
    },
    end(seconds: number, final: Parameters<ProgressPrinter['end']>[0]) {
      now = T0 + seconds * 1000;
      printer.end(final);
      return printed[printed.length - 1]!;
    },
  };
}

describe('watchOutputFor', () => {
  it('redraws only on a terminal; JSON is always one object per line', () => {
    assert.equal(watchOutputFor({ json: false, isTTY: true }), 'redraw');
    assert.equal(watchOutputFor({ json: false, isTTY: false }), 'lines');
    assert.equal(watchOutputFor({ json: true, isTTY: true }), 'ndjson');
    assert.equal(watchOutputFor({ json: true, isTTY: false }), 'ndjson');
  });
});

describe('ProgressPrinter in a log (not a terminal)', () => {
  it('prints a line at once on a stage change, otherwise at most every interval, and never an unchanged line', () => {
    const r = rig('lines');
    const first = r.at(0, progress([stage('accounts', 'running', 10), stage('profiles', 'pending', 0)]));
    assert.equal(first, '2026-11-23T10:00:00Z acme RUNNING 5% 10/200 · accounts→running · running accounts 10%\n');
    assert.equal(
      r.at(2, progress([stage('accounts', 'running', 10), stage('profiles', 'pending', 0)])),
      '',
      'nothing moved'
    );
    assert.equal(
      r.at(4, progress([stage('accounts', 'running', 40), stage('profiles', 'pending', 0)])),
      '',
      'too soon'
    );
    assert.equal(
      r.at(30, progress([stage('accounts', 'running', 60), stage('profiles', 'pending', 0)])).split(' · ')[0],
      '2026-11-23T10:00:30Z acme RUNNING 30% 60/200'
    );

    // Unchanged counts never print again, however long it waits.
    assert.equal(r.at(120, progress([stage('accounts', 'running', 60), stage('profiles', 'pending', 0)])), '');

    // A stage finishing and the next starting print at once, even within the interval, and say what changed.
    const changed = r.at(122, progress([stage('accounts', 'done', 100), stage('profiles', 'running', 1)]));
    assert.match(
      changed,
      /^2026-11-23T10:02:02Z acme RUNNING 50% 101\/200 · accounts→done, profiles→running · running profiles 1% · done accounts\n$/
    );
  });

  it('prints a pause at once with its reason, and the resume', () => {
    const r = rig('lines');
    r.at(0, progress([stage('accounts', 'running', 10)]));
    const paused = r.at(
      1,
      progress([stage('accounts', 'running', 10)], {
        status: 'paused',
        pausedReason: 'error budget exceeded: 150 of 1000 records failed',
      })
    );
    assert.match(paused, / acme PAUSED \(error budget exceeded: 150 of 1000 records failed\) 10% /);
    assert.match(r.at(2, progress([stage('accounts', 'running', 10)])), / acme RUNNING 10% /);
  });

  it('shows rate against budget, failures and the ETA, and never a cursor escape', () => {
    const r = rig('lines');
    const s = {
      ...stage('peer-messages', 'running', 400, 1000),
      failed: 3,
      action: 'ImportPeerMsg',
      budget: 20,
      callsPerSecond: 19.6,
    };
    const line = r.at(0, progress([s], { etaSeconds: 125 }));
    assert.match(
      line,
      /RUNNING 40% 403\/1,000 failed 3 · peer-messages→running · running peer-messages 40% 19\.6\/20\/s · ETA 2m 05s\n$/
    );
    assert.ok(!r.printed.join('').includes('\x1b'), 'no escape sequences in a log');
  });

  it('says starting, not 100% of nothing, before the plan is loaded', () => {
    const r = rig('lines');
    assert.match(r.at(0, progress([])), /acme RUNNING starting\n$/);
    // The workflow lists its stages before it has read their plan (`dev` with worker processes showed 100% 0/0).
    assert.match(
      r.at(0.5, progress([stage('accounts', 'pending', 0, 0), stage('verify', 'pending', 0, 0)])),
      /acme RUNNING starting/
    );
    assert.match(r.at(1, progress([stage('accounts', 'running', 0, 30)])), /RUNNING 0% 0\/30/);
  });

  it('ends with one line naming the outcome', () => {
    const r = rig('lines');
    r.at(0, progress([stage('accounts', 'running', 10)]));
    assert.match(
      r.end(9, { migrationId: 'acme', status: 'completed', stages: [stage('accounts', 'done', 100)] }),
      /^2026-11-23T10:00:09Z acme COMPLETED 100% 100\/100 · accounts→done · done accounts\n$/
    );
    assert.match(rig('lines').end(0, { migrationId: 'acme', status: 'terminated' }), /acme TERMINATED /);
  });
});

describe('ProgressPrinter with --json (NDJSON)', () => {
  it('prints each update as one JSON object on one line, with the same rules against repeats', () => {
    const r = rig('ndjson', 10_000);
    const p1 = progress([stage('accounts', 'running', 10)]);
    r.at(0, p1);
    r.at(2, p1);
    r.at(4, progress([stage('accounts', 'running', 20)]));
    const p2 = progress([stage('accounts', 'done', 100)]);
    r.at(6, p2);
    r.end(8, { migrationId: 'acme', status: 'completed', stages: p2.stages });
    const lines = r.printed.join('').split('\n');
    assert.equal(lines.pop(), '', 'every object ends with a newline');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l) as unknown),
      [p1, p2, { migrationId: 'acme', status: 'completed', stages: p2.stages }]
    );
  });
});

describe('ProgressPrinter on a terminal', () => {
  it('redraws the whole table on every poll', () => {
    const r = rig('redraw');
    const p = progress([stage('accounts', 'running', 10)]);
    const CLEAR = '\x1b[2J\x1b[H';
    const first = r.at(0, p);
    assert.ok(first.startsWith(CLEAR), 'clears the screen first');
    assert.match(first.slice(CLEAR.length), /^migration acme: RUNNING {2}· {2}elapsed 0s\naccounts +running/);
    assert.ok(r.at(2, p).startsWith(CLEAR), 'and again on the next poll, unchanged or not');
    assert.match(
      r.end(4, { migrationId: 'acme', status: 'cancelled', stages: p.stages }),
      /^migration acme: CANCELLED\naccounts/
    );
  });
});

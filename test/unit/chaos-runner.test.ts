import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildChaosProgram, chaosFlagsSchema } from '../../src/chaos/cli';
import { planDisruptions } from '../../src/chaos/disruption-plan';
import type { ChaosResult } from '../../src/chaos/run-chaos';
import { chaosPassed, chaosSummary } from '../../src/chaos/summary';

const faults = {
  delayed: 40,
  latencySpike: 40,
  reset: 9,
  http5xx: 24,
  serverBusy: 0,
  tooFrequent: 6,
  commitThenDrop: 16,
};
const exact = {
  messages: 48_210,
  lost: 0,
  duplicated: 0,
  reordered: 0,
  users: { expected: 2_400, found: 2_400 },
  missingRelations: 0,
  memberMismatches: 0,
  examples: [],
};
const run: ChaosResult = {
  seed: 7,
  users: 2_400,
  status: 'completed',
  workerKills: 12,
  serverRestarts: 2,
  staging: 'sqlite',
  machines: 1,
  postgresRestarts: 0,
  workerExits: 0,
  faults,
  failedRecords: 0,
  rounds: 1,
  exactness: exact,
  seconds: 612,
};

describe('planDisruptions', () => {
  const input = { seed: 7, workerKills: 12, serverRestarts: 2, expectedRequests: 50_000 };

  it('replays the same moments for a seed, and others for another seed', () => {
    assert.deepEqual(planDisruptions(input), planDisruptions(input));
    assert.notDeepEqual(planDisruptions(input), planDisruptions({ ...input, seed: 8 }));
  });

  it('places every disruption, in order, between 4% and 80% of the expected requests', () => {
    const plan = planDisruptions(input);
    assert.equal(plan.filter((d) => d.kind === 'worker-kill').length, 12);
    assert.equal(plan.filter((d) => d.kind === 'server-restart').length, 2);
    for (const [i, d] of plan.entries()) {
      assert.ok(d.atRequests >= 2_000 && d.atRequests <= 40_000, JSON.stringify(d));
      if (i > 0) assert.ok(d.atRequests >= plan[i - 1]!.atRequests);
      assert.ok(d.delayMs >= 0 && d.delayMs <= 1_500);
      assert.ok(d.kind === 'worker-kill' ? d.downMs === 0 : d.downMs >= 500 && d.downMs <= 3_000);
    }
  });

  it('adds PostgreSQL restarts without moving the disruptions a seed always had', () => {
    const withPostgres = planDisruptions({ ...input, postgresRestarts: 2 });
    assert.equal(withPostgres.filter((d) => d.kind === 'postgres-restart').length, 2);
    assert.deepEqual(
      withPostgres.filter((d) => d.kind !== 'postgres-restart'),
      planDisruptions(input)
    );
  });
});

describe('chaosSummary', () => {
  it('is one line with the counts, the faults injected and the seed', () => {
    assert.equal(
      chaosSummary(run),
      'chaos: 12 kills, 2 server restarts, 48,210 messages, 0 lost, 0 duplicated, ' +
        'users, relations and groups exact, faults: 40 latencySpike, 9 reset, 24 http5xx, 6 tooFrequent, ' +
        '16 commitThenDrop, 612 s (seed=7, 2,400 users)'
    );
    assert.ok(chaosPassed(run));
  });

  it('ends with the longest stall after a disruption, beside the quiet baseline', () => {
    const line = chaosSummary({
      ...run,
      longestStall: { conversation: 'group:g7', seconds: 4.25, after: 'worker kill 2' },
      longestQuietGap: { conversation: 'peer:a>b', seconds: 1 },
      stalls: { count: 31, p50: 2, p90: 3.54 },
    });
    assert.match(
      line,
      /, longest stall 4\.3 s after worker kill 2 \(group:g7; 31 stalls, median 2\.0 s, p90 3\.5 s; quiet gaps up to 1\.0 s\), 612 s /
    );
  });

  it('names the machines and the PostgreSQL restarts of a run across machines', () => {
    const line = chaosSummary({ ...run, staging: 'postgres', machines: 3, workerKills: 4, postgresRestarts: 1 });
    assert.match(line, /^chaos: 3 machines on PostgreSQL, 4 machine kills, 2 server restarts, 1 PostgreSQL restart, /);
    assert.match(line, /48,210 messages, 0 lost, 0 duplicated/);
  });

  it('counts the rounds, and fails a run whose final state differs from the last export', () => {
    const rounds = { ...run, rounds: 3, finalState: [] };
    assert.match(
      chaosSummary(rounds),
      /^chaos: rounds 3, 12 kills, .* 0 lost, 0 duplicated, .*final state = last export/
    );
    assert.ok(chaosPassed(rounds));
    const differs = { ...rounds, finalState: ['profiles: u1 nick'] };
    assert.match(chaosSummary(differs), /final state differs from the last export/);
    assert.equal(chaosPassed(differs), false);
  });

  it('names what is not exact, and a run that did not finish fails', () => {
    const bad = { ...run, workerExits: 1, exactness: { ...exact, duplicated: 3, reordered: 1, missingRelations: 2 } };
    const line = chaosSummary(bad);
    assert.match(line, /1 worker exit on its own/);
    assert.match(line, /0 lost, 3 duplicated, 1 conversation reordered, users 2,400\/2,400, 2 relations missing/);
    assert.equal(chaosPassed(bad), false);
    const timedOut = { ...run, status: 'timed-out', exactness: undefined };
    assert.match(chaosSummary(timedOut), /migration timed-out, not compared/);
    assert.equal(chaosPassed(timedOut), false);
    assert.equal(chaosPassed({ ...run, failedRecords: 1 }), false);
  });
});

describe('npm run chaos flags', () => {
  const defaults = () => buildChaosProgram().opts();
  it('parse with the defaults of --help', () => {
    // The test replaces the action: parsing alone must not start a run.
    const program = buildChaosProgram().action(() => undefined);
    program.parse(['--users', '40', '--faults', 'off', '--seed', '3'], { from: 'user' });
    const parsed = chaosFlagsSchema.parse(program.opts());
    assert.deepEqual(parsed, {
      users: 40,
      kills: 12,
      serverRestarts: 2,
      staging: 'sqlite',
      machines: 1,
      workersPerMachine: 1,
      postgresRestarts: 0,
      faults: false,
      seed: 3,
      rate: 400,
      timeoutMinutes: 30,
      rounds: 1,
      keep: false,
    });
    assert.equal(defaults().faults, 'on');
  });

  it('take --staging postgres with 3 machines and a PostgreSQL restart by default', () => {
    const program = buildChaosProgram().action(() => undefined);
    program.parse(['--staging', 'postgres', '--seed', '3'], { from: 'user' });
    const parsed = chaosFlagsSchema.parse(program.opts());
    assert.equal(parsed.staging, 'postgres');
    assert.equal(parsed.machines, 3);
    assert.equal(parsed.postgresRestarts, 1);
  });

  it('refuse several machines or PostgreSQL restarts on a SQLite staging', () => {
    const result = chaosFlagsSchema.safeParse({ ...defaults(), seed: '1', machines: '3', postgresRestarts: '1' });
    if (result.success) return assert.fail('accepted');
    assert.deepEqual(
      result.error.issues.map((i) => i.message),
      [
        "--machines needs --staging postgres (a SQLite staging is one machine's)",
        "--postgres-restarts needs --staging postgres (a SQLite staging is one machine's)",
      ]
    );
  });

  it('refuse catch-up rounds on a PostgreSQL staging, and take them on SQLite', () => {
    const onPostgres = chaosFlagsSchema.safeParse({ ...defaults(), seed: '1', staging: 'postgres', rounds: '3' });
    if (onPostgres.success) return assert.fail('accepted');
    assert.deepEqual(
      onPostgres.error.issues.map((i) => i.message),
      ['--rounds needs --staging sqlite (catch-up rounds stage in SQLite for now)']
    );
    assert.equal(chaosFlagsSchema.parse({ ...defaults(), seed: '1', rounds: '3' }).rounds, 3);
    const zero = chaosFlagsSchema.safeParse({ ...defaults(), seed: '1', rounds: '0' });
    assert.deepEqual(
      zero.error?.issues.map((i) => i.message),
      ['--rounds must be at least 1']
    );
  });

  it('refuse what is out of range, naming the flag', () => {
    const result = chaosFlagsSchema.safeParse({ ...defaults(), users: '1', seed: '1', kills: 'many' });
    if (result.success) return assert.fail('accepted');
    const messages = result.error.issues.map((i) => i.message);
    assert.deepEqual(messages, ['--users must be at least 2', '--kills must be a number']);
  });

  it('documents every flag and an example in --help', () => {
    const help = buildChaosProgram().helpInformation() + '\n';
    const flags = ['--users', '--kills', '--server-restarts', '--faults', '--seed', '--rate', '--timeout-minutes'];
    flags.push('--staging', '--machines', '--workers-per-machine', '--postgres-restarts', '--rounds');
    for (const flag of flags) assert.ok(help.includes(flag), flag);
  });
});

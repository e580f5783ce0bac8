/**
 * Coexistence under chaos at CI size, through the same runner as `npm run chaos -- --coexist`: traffic on both
 * sides at once (three one-to-one pairs and a group) with duplicated, reordered and lost (5%) deliveries and ZIM
 * send faults, while the conversations' worker process and the receiver process are each SIGKILLed and started
 * again, and the Temporal server is SIGKILLed and started again on its database file and port (down 3.5 to 6 s,
 * traffic flowing: the receiver answers 503 and the senders' retries carry the deliveries across). Both sides must
 * end with every message exactly once and none mirrored back: what the lost deliveries left on one side only is
 * found and repaired by the audit the sync's stop runs. The run prints its summary line; a
 * failing run replays with CHAOS_SEED=<seed> (CHAOS_LOG=1 shows its progress). The check's ability to fail (a
 * doubled, a missing, an echoed message) is shown in test/unit/chaos-coexist.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coexistChaosPassed, coexistChaosSummary } from '../../src/chaos/coexist-summary';
import { runCoexistChaos } from '../../src/chaos/run-coexist-chaos';
import { COEXIST_CONVERSATIONS } from '../../src/testing/coexist-traffic';

const ROUNDS = 10;
const CONVERSATIONS = COEXIST_CONVERSATIONS.length;

describe('chaos --coexist: the worker, the receiver and the Temporal server killed while traffic flows both ways', () => {
  it('ends with every message on the other side exactly once, none echoed, after the kills and the restart', async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
    const result = await runCoexistChaos({
      seed,
      workerKills: 1,
      receiverKills: 1,
      serverRestarts: 1,
      rounds: ROUNDS,
      paceMs: 400,
      faults: true,
      timeoutMs: 5 * 60_000,
      log: process.env.CHAOS_LOG ? (line) => console.error(line) : undefined,
    });
    const summary = coexistChaosSummary(result);
    console.log(summary);
    const why = `${summary}\nwork folder: ${result.workDir ?? '-'}`;
    assert.equal(result.workerKills, 1, `the worker was not killed: ${why}`);
    assert.equal(result.receiverKills, 1, `the receiver was not killed: ${why}`);
    assert.equal(result.serverRestarts, 1, `the Temporal server was not restarted: ${why}`);
    // The rounds after the server's kill are delivered while it is down: refused, then retried.
    assert.ok(result.answered503 > 0, `no delivery was refused while the server was down: ${why}`);
    assert.equal(result.exitsOnTheirOwn, 0, why);
    assert.deepEqual(result.dropped, { zim: 0, legacy: 0 }, `a delivery outlived its sender's retries: ${why}`);
    assert.deepEqual(
      result.check,
      {
        legacyToZim: ROUNDS * CONVERSATIONS,
        zimToLegacy: ROUNDS * CONVERSATIONS,
        lost: 0,
        duplicated: 0,
        echoed: 0,
        expectedEachWay: ROUNDS * CONVERSATIONS,
      },
      why
    );
    // Every mirror was counted by the workflows once, and every echo of ours was suppressed, not mirrored.
    assert.equal(result.sync?.legacyToZim.mirrored, ROUNDS * CONVERSATIONS, why);
    assert.equal(result.sync?.zimToLegacy.mirrored, ROUNDS * CONVERSATIONS, why);
    // Lost on purpose: echoes lost are not counted; messages lost were found by the stop's audit and repaired.
    const audit = result.audit!;
    assert.ok(audit.lostOnPurpose > 0, `nothing was lost on purpose: ${why}`);
    assert.equal(audit.repaired, audit.found, why);
    assert.ok(audit.found <= audit.lostOnPurpose, why);
    const echoes = result.sync?.echoesSuppressed ?? 0;
    assert.ok(echoes >= 2 * ROUNDS * CONVERSATIONS - audit.lostOnPurpose - audit.repaired, why);
    assert.ok(coexistChaosPassed(result), why);
    assert.match(
      summary,
      /^chaos --coexist: 1 worker kill, 1 receiver kill, 1 server restart; \d+ deliver(y|ies) lost on purpose, \d+ divergences? found, \d+ repaired; .*0 lost, 0 duplicated, 0 echoed; /
    );
  });
});

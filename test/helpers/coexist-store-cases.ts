/**
 * Behaviour every CoexistStore engine must have (SQLite, PostgreSQL), run by each engine's test: bodies by keyed
 * reference, the mirror ledger (intent counts attempts and never downgrades SENT, SENT only from INTENT keeping its
 * first writer), the send lease's compare-and-set, group state, parked mirrors and divergences, and the key tables
 * the audit pages through (conversations and users by key range, filled on upgrade), and the echoes the receivers
 * settled (each key counted once, whoever races), and the prunes of both (bodies only once every message they were put
 * for is settled, a day since). Several cases open two stores
 * on one location, as a receiver and a worker on two machines would, and race them.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it, mock } from 'node:test';
import type { CoexistStore } from '../../src/coexist/coexist-store';
import type { SyncEvent } from '../../src/coexist/sync-event';

export interface CoexistStoreUnderTest {
  /** A location no store has been opened at yet. */
  fresh(): string;
  /** Opens a store at `location`: a new connection (pool or file handle), as another process would. */
  open(location: string): Promise<CoexistStore>;
  /**
   * Takes the store at `location` (closed) back to the schema before its key tables (known conversations and
   * users), as a store made by the version before them: the next open must fill them from its rows.
   */
  dropKeyTables(location: string): Promise<void>;
  /** Takes the store at `location` (closed) back to the schema before its echoes table (the version before it). */
  dropEchoes(location: string): Promise<void>;
  /**
   * Takes the store at `location` (closed) back to the schema before bodies were pruned (no time on a body, no
   * record of its uses, no use time, no body named on a parked row), keeping its bodies and parked rows: rows as the
   * version before made them.
   */
  dropBodyTimes(location: string): Promise<void>;
  /** How many body uses (messages a body was put for) the store at `location` holds. */
  countBodyUses(location: string): Promise<number>;
}

/** A few ms: bodies put one after the other get times in that order (oldest first). */
const tick = () => new Promise((r) => setTimeout(r, 3));

/** Runs `run` with the clock `ms` ahead (an hour's wait, as a store's writes see it). */
export async function ahead<T>(ms: number, run: () => Promise<T>): Promise<T> {
  const now = Date.now.bind(Date);
  const m = mock.method(Date, 'now', () => now() + ms);
  try {
    return await run();
  } finally {
    m.mock.restore();
  }
}
const HOURS_2 = 2 * 3_600_000;

/** A parked mirror of `event` (its body by reference), as the park activity records it. */
const parkOf = (event: SyncEvent) => ({
  conv: event.conv,
  eventKey: event.eventKey,
  origin: event.origin,
  subject: event.msgId ?? `group ${event.groupEvent ?? ''}`,
  reason: 'r',
  action: 'a',
  event,
});
const zimMessage = (msgId: string, bodyRef: string): SyncEvent => ({
  eventKey: `zim:msg:${msgId}:v`,
  origin: 'zim',
  conv: 'peer:a:b',
  kind: 'message',
  occurredAt: 1,
  order: 1,
  from: 'a',
  to: 'b',
  bodyRef,
  msgId,
});

/** Whether the store still has the body. */
const has = (s: CoexistStore, ref: string) =>
  s.body(ref).then(
    () => true,
    () => false
  );

/** Every key of a listing, `limit` at a time, each page after the last key of the one before. */
async function pageThrough(
  page: (after: string | undefined, limit: number) => Promise<string[]>,
  limit: number,
  between: (after: string) => Promise<void> = async () => {}
): Promise<string[]> {
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const keys = await page(after, limit);
    assert.ok(keys.length <= limit, `a page of at most ${limit}: ${keys.join(', ')}`);
    out.push(...keys);
    if (keys.length < limit) return out;
    after = keys.at(-1)!;
    await between(after);
  }
}

/** Bytewise order, as both engines sort text. */
const bytewise = (keys: string[]) => [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

/** A store with a row of each kind that names a conversation or a user. */
async function seedKeys(s: CoexistStore): Promise<void> {
  await s.recordIntent('zim', 'z1', 'peer:a:b');
  await s.markSent('legacy', 'l1', 'peer:B:c', 'z2');
  await s.setGroup('g', { live: true, origin: 'legacy', changedAt: 1 });
  await s.setMembers('h', ['d', 'a', 'Ümit'], { member: true, origin: 'zim', changedAt: 1 });
  await s.setMembers('h', ['e'], { member: false, origin: 'zim', changedAt: 2 });
  await s.park({ conv: 'peer:c:f', eventKey: 'k', origin: 'zim', subject: '1', reason: 'r', action: 'a' });
  await s.recordDivergence({ conv: 'group:k', origin: 'zim', msgId: 'z3', kind: 'missing', at: 5 });
  await s.recordDivergence({ conv: 'peer:x:y', origin: 'legacy', msgId: 'l4', kind: 'missing', at: 5 });
  // Left on its side by policy: not a conversation the store knows (as before the key tables).
  await s.markNotMirrored('zim', 'z5', 'peer:n:m', 'backend send');
}
const SEEDED_CONVS = ['group:g', 'group:k', 'peer:B:c', 'peer:a:b', 'peer:c:f', 'peer:x:y'];
const SEEDED_USERS = ['B', 'a', 'b', 'c', 'd', 'e', 'f', 'x', 'y', 'Ümit'];

async function using<T>(stores: Promise<CoexistStore[]>, run: (s: CoexistStore[]) => Promise<T>): Promise<T> {
  const opened = await stores;
  try {
    return await run(opened);
  } finally {
    for (const s of opened) await s.close();
  }
}

export function coexistStoreCases(sut: CoexistStoreUnderTest): void {
  const one = (run: (s: CoexistStore) => Promise<void>) =>
    using(Promise.all([sut.open(sut.fresh())]), ([s]) => run(s!));
  const two = (run: (a: CoexistStore, b: CoexistStore, at: string) => Promise<void>) => {
    const at = sut.fresh();
    // One after the other: the race of two fresh opens is a case of its own.
    return using(
      sut.open(at).then(async (a) => [a, await sut.open(at)]),
      ([a, b]) => run(a!, b!, at)
    );
  };

  it('stores a body once under a keyed reference and reads it back exactly', () =>
    one(async (s) => {
      const text = 'ok\u0000 ünïcödé 🎉\nline two';
      const ref = await s.putBody(text);
      assert.match(ref, /^b:[0-9a-f]{64}$/);
      assert.equal(await s.putBody(text), ref, 'the same body, the same reference');
      assert.notEqual(await s.putBody('ok'), ref);
      assert.notEqual(ref, 'b:' + createHash('sha256').update(text).digest('hex'), 'keyed, not a plain hash');
      assert.equal(await s.body(ref), text);
      await assert.rejects(s.body('b:none'), /no stored body b:none/);
    }));

  it('reads a body another store (another machine) put, under the same reference', () =>
    two(async (receiver, worker) => {
      const ref = await receiver.putBody('from the receiver');
      assert.equal(await worker.body(ref), 'from the receiver');
      assert.equal(await worker.putBody('from the receiver'), ref, 'one key per store location');
    }));

  it('makes one reference key when two processes open a fresh store at once', async () => {
    const at = sut.fresh();
    await using(Promise.all([sut.open(at), sut.open(at), sut.open(at)]), async (stores) => {
      const refs = await Promise.all(stores.map((s) => s.putBody('same body')));
      assert.equal(new Set(refs).size, 1, `refs: ${refs.join(', ')}`);
    });
  });

  it('counts intents, never downgrades SENT, and keeps the first SENT with its writer', () =>
    one(async (s) => {
      assert.equal(await s.record('legacy', 'L1'), null);
      const before = Date.now();
      const first = await s.recordIntent('legacy', 'L1', 'peer:a:b');
      assert.deepEqual(
        { ...first, intentAt: null },
        {
          origin: 'legacy',
          originId: 'L1',
          conv: 'peer:a:b',
          state: 'INTENT',
          targetId: null,
          attempts: 1,
          intentAt: null,
          sendingAt: null,
          sentBy: null,
        }
      );
      assert.ok(first.intentAt! >= before && first.intentAt! <= Date.now());
      const again = await s.recordIntent('legacy', 'L1', 'peer:a:b');
      assert.equal(again.attempts, 2);
      assert.equal(again.intentAt, first.intentAt, 'the first intent time is kept');

      await s.markSent('legacy', 'L1', 'peer:a:b', 'z1', 'run/act-1');
      await s.markSent('legacy', 'L1', 'peer:a:b', 'z2', 'run/act-2');
      const sent = await s.recordIntent('legacy', 'L1', 'peer:a:b');
      assert.deepEqual([sent.state, sent.targetId, sent.sentBy, sent.attempts], ['SENT', 'z1', 'run/act-1', 2]);

      // SENT without an intent (an echo settles it): no attempts, no writer known.
      await s.markSent('zim', 'Z9', 'group:g', 'l9');
      const echo = await s.record('zim', 'Z9');
      assert.deepEqual([echo?.state, echo?.attempts, echo?.intentAt, echo?.sentBy], ['SENT', 0, null, null]);
      await s.recordIntent('zim', 'L1', 'peer:a:b');
      assert.deepEqual(
        (await s.records()).map((r) => [r.conv, r.origin, r.originId, r.state]),
        [
          ['group:g', 'zim', 'Z9', 'SENT'],
          ['peer:a:b', 'legacy', 'L1', 'SENT'],
          ['peer:a:b', 'zim', 'L1', 'INTENT'],
        ]
      );
    }));

  it('leases a send only from the value the attempt saw, only while INTENT, and releases only its own lease', () =>
    one(async (s) => {
      assert.equal(await s.markSending('legacy', 'L1', 1_000, null), false, 'no row, no lease');
      await s.recordIntent('legacy', 'L1', 'peer:a:b');
      assert.equal(await s.markSending('legacy', 'L1', 1_000, null), true);
      assert.equal(await s.markSending('legacy', 'L1', 1_001, null), false);
      assert.equal((await s.record('legacy', 'L1'))?.sendingAt, 1_000);
      assert.equal(await s.markSending('legacy', 'L1', 30_000, 1_000), true);
      assert.equal(await s.markSending('legacy', 'L1', 30_001, 1_000), false);
      await s.releaseSending('legacy', 'L1', 1_000);
      assert.equal((await s.record('legacy', 'L1'))?.sendingAt, 30_000, 'an older lease released changes nothing');
      await s.releaseSending('legacy', 'L1', 30_000);
      assert.equal((await s.record('legacy', 'L1'))?.sendingAt, -30_000);
      assert.equal(await s.markSending('legacy', 'L1', 30_500, 30_000), false, 'not from the value before');
      assert.equal(await s.markSending('legacy', 'L1', 30_500, -30_000), true);
      await s.recordIntent('legacy', 'L1', 'peer:a:b');
      assert.equal((await s.record('legacy', 'L1'))?.sendingAt, 30_500, 'a new intent keeps the lease');
      await s.markSent('legacy', 'L1', 'peer:a:b', 'z1');
      assert.equal(await s.markSending('legacy', 'L1', 60_000, 30_500), false, 'SENT cannot be leased');
      await s.recordIntent('zim', 'L1', 'peer:a:b');
      assert.equal(await s.markSending('zim', 'L1', 5, null), true, 'per origin');
    }));

  it('gives each lease to exactly one of two stores racing for it, and loses no attempt', () =>
    two(async (a, b) => {
      const ids = Array.from({ length: 20 }, (_, i) => `race-${i}`);
      await Promise.all(
        ids.flatMap((id) => [a.recordIntent('zim', id, 'peer:a:b'), b.recordIntent('zim', id, 'peer:a:b')])
      );
      for (const r of await a.records()) assert.equal(r.attempts, 2, `${r.originId}: both intents counted`);
      const won = await Promise.all(
        ids.map(async (id, i) => {
          const [x, y] = await Promise.all([
            a.markSending('zim', id, 100 + i, null),
            b.markSending('zim', id, 200 + i, null),
          ]);
          return Number(x) + Number(y);
        })
      );
      assert.deepEqual(
        won,
        ids.map(() => 1),
        'one winner per lease'
      );
      for (const r of await b.records()) assert.ok(r.sendingAt! >= 100, `${r.originId}: leased`);
      // Racing SENT writers: the first is kept whatever the other wrote.
      await Promise.all([
        a.markSent('zim', 'race-0', 'peer:a:b', 'x', 'A'),
        b.markSent('zim', 'race-0', 'peer:a:b', 'y', 'B'),
      ]);
      const sent = await a.record('zim', 'race-0');
      assert.ok(
        (sent?.targetId === 'x' && sent.sentBy === 'A') || (sent?.targetId === 'y' && sent.sentBy === 'B'),
        JSON.stringify(sent)
      );
    }));

  it('keeps group and member state, the profile until a new one is given', () =>
    one(async (s) => {
      assert.equal(await s.group('g'), null);
      await s.setGroup('g', { live: true, origin: 'legacy', changedAt: 5, profile: '{"name":"a"}' });
      await s.setGroup('g', { live: false, origin: 'zim', changedAt: 9 });
      assert.deepEqual(await s.group('g'), {
        groupId: 'g',
        live: false,
        origin: 'zim',
        changedAt: 9,
        profile: '{"name":"a"}',
      });
      await s.setMembers('g', ['u1', 'u2', 'u2'], { member: true, origin: 'zim', changedAt: 3 });
      await s.setMembers('g', ['u2'], { member: false, origin: 'legacy', changedAt: 4 });
      await s.setMembers('g', [], { member: false, origin: 'legacy', changedAt: 4 });
      assert.deepEqual(await s.member('g', 'u1'), { userId: 'u1', member: true, origin: 'zim', changedAt: 3 });
      assert.deepEqual(await s.member('g', 'u2'), { userId: 'u2', member: false, origin: 'legacy', changedAt: 4 });
      assert.equal(await s.member('g', 'u3'), null);
      assert.equal(await s.member('h', 'u1'), null);
    }));

  it('parks an event once, with the event kept for a retry, and unparks it', () =>
    one(async (s) => {
      const event: SyncEvent = {
        eventKey: 'lg:msg:1',
        origin: 'legacy',
        conv: 'peer:a:b',
        kind: 'message',
        occurredAt: 1_000,
        order: 1,
        from: 'a',
        to: 'b',
        bodyRef: 'b:ref',
        msgId: '1',
      };
      const p = {
        conv: 'peer:a:b',
        eventKey: 'lg:msg:1',
        origin: 'legacy' as const,
        subject: '1',
        reason: 'r',
        action: 'x',
      };
      await s.park({ ...p, event });
      await s.park({ ...p, reason: 'again' });
      await s.park({ ...p, eventKey: 'lg:msg:2', subject: '2' });
      const parked = await s.parked();
      assert.deepEqual(
        parked.map(({ parkedAt: _, ...rest }) => rest),
        [
          { ...p, event },
          { ...p, eventKey: 'lg:msg:2', subject: '2' },
        ],
        'oldest first, the first park kept'
      );
      assert.ok(parked.every((r) => r.parkedAt <= Date.now()));
      await s.unpark('lg:msg:1');
      assert.deepEqual(
        (await s.parked()).map((r) => r.eventKey),
        ['lg:msg:2']
      );
    }));

  it('records a divergence once, its repair once, and lists every conversation it has seen', () =>
    one(async (s) => {
      await s.recordIntent('zim', 'z1', 'peer:a:b');
      await s.setGroup('g', { live: true, origin: 'legacy', changedAt: 1 });
      await s.park({ conv: 'peer:c:d', eventKey: 'k', origin: 'zim', subject: '1', reason: 'r', action: 'a' });
      const d = { conv: 'group:h', origin: 'zim' as const, msgId: 'z2' };
      await s.recordDivergence({ ...d, kind: 'missing', at: 5 });
      await s.recordDivergence({ ...d, kind: 'missing', at: 6 });
      await s.recordDivergence({ conv: 'peer:a:b', origin: 'legacy', msgId: 'gap:3-4', kind: 'gap', at: 7 });
      await s.markRepaired(d, 'handed to coexist:group:h as audit:zim:msg:z2');
      await s.markRepaired(d, 'again');
      const list = await s.divergences();
      assert.equal(list.length, 2);
      const row = list.find((r) => r.msgId === 'z2')!;
      assert.deepEqual([row.kind, row.at, row.repair], ['missing', 5, 'handed to coexist:group:h as audit:zim:msg:z2']);
      assert.ok(row.repairedAt && row.foundAt <= row.repairedAt);
      const gap = list.find((r) => r.kind === 'gap')!;
      assert.deepEqual([gap.origin, gap.repairedAt, gap.repair], ['legacy', null, null]);
      // Bytewise order, as SQLite sorts: upper case before lower.
      await s.recordIntent('legacy', 'x', 'peer:B:c');
      assert.deepEqual(await s.conversations(), ['group:g', 'group:h', 'peer:B:c', 'peer:a:b', 'peer:c:d']);
    }));
  it('lists the users it has seen: in its one-to-one conversations and its groups, in or out', () =>
    one(async (s) => {
      assert.deepEqual(await s.users(), []);
      await s.recordIntent('zim', 'z1', 'peer:a:b');
      await s.park({ conv: 'peer:b:c', eventKey: 'k', origin: 'zim', subject: '1', reason: 'r', action: 'a' });
      await s.setMembers('g', ['d', 'a'], { member: true, origin: 'legacy', changedAt: 1 });
      await s.setMembers('h', ['e'], { member: false, origin: 'zim', changedAt: 2 });
      // A group's conversation names no user.
      await s.recordIntent('legacy', 'l1', 'group:g');
      assert.deepEqual((await s.users()).sort(), ['a', 'b', 'c', 'd', 'e']);
    }));
  it('keeps what is left on its side by policy, the first reason, per side', () =>
    one(async (s) => {
      assert.equal(await s.notMirrored('zim', 'z9'), null);
      await s.markNotMirrored('zim', 'z9', 'peer:a:b', 'backend send');
      await s.markNotMirrored('zim', 'z9', 'peer:a:b', 'again');
      assert.equal(await s.notMirrored('zim', 'z9'), 'backend send');
      assert.equal(await s.notMirrored('legacy', 'z9'), null);
    }));

  it('counts an echo the receivers settled once per key, across stores; one handed to a workflow is not counted', () =>
    two(async (s, other) => {
      const echo = (eventKey: string, sync = 'acme') => ({ eventKey, conv: 'peer:a:b', sync });
      assert.equal(await s.echoSettledBy('zim:msg:1:r'), null);
      assert.equal(await s.echoesSettledByReceivers('acme'), 0);
      assert.equal(await s.settleEcho(echo('zim:msg:1:r')), true, 'the first delivery records it');
      assert.equal(await other.settleEcho(echo('zim:msg:1:r')), false, 'a redelivery, on another machine');
      assert.equal(await other.echoSettledBy('zim:msg:1:r'), 'receiver');
      // Racing deliveries of one key: exactly one records it.
      const keys = Array.from({ length: 20 }, (_, i) => `lg:msg:race-${i}`);
      const won = await Promise.all(
        keys.map(async (k) => {
          const [x, y] = await Promise.all([s.settleEcho(echo(k)), other.settleEcho(echo(k))]);
          return Number(x) + Number(y);
        })
      );
      assert.deepEqual(
        won,
        keys.map(() => 1),
        'one recorder per key'
      );
      assert.equal(await s.echoesSettledByReceivers('acme'), 21);
      // Handed to its workflow (which counts it): a later delivery finds it taken and records nothing.
      await s.echoHandedOff(echo('zim:msg:2:r'));
      assert.equal(await other.settleEcho(echo('zim:msg:2:r')), false);
      assert.equal(await s.echoSettledBy('zim:msg:2:r'), 'workflow');
      // A redelivery that found the mirror SENT while the first copy was on its way: the workflow's count wins.
      assert.equal(await other.settleEcho(echo('zim:msg:3:r')), true);
      await s.echoHandedOff(echo('zim:msg:3:r'));
      assert.equal(await other.echoSettledBy('zim:msg:3:r'), 'workflow');
      await s.echoHandedOff(echo('zim:msg:3:r'));
      assert.equal(await other.echoesSettledByReceivers('acme'), 21, 'echoes handed to workflows are theirs to count');
      // Per sync.
      assert.equal(await s.settleEcho(echo('zim:msg:4:r', 'other')), true);
      assert.equal(await s.echoesSettledByReceivers('other'), 1);
      assert.equal(await s.echoesSettledByReceivers('acme'), 21);
    }));

  it('forgets echo records older than asked, across stores, and keeps their counts', () =>
    two(async (s, other) => {
      const echo = (eventKey: string, sync = 'acme') => ({ eventKey, conv: 'peer:a:b', sync });
      const later = () => new Promise((r) => setTimeout(r, 3)); // each record a later `at` than the one before
      for (let i = 0; i < 3; i++) {
        assert.equal(await s.settleEcho(echo(`zim:msg:${i}:r`)), true);
        await later();
      }
      await other.echoHandedOff(echo('zim:msg:9:r'));
      assert.equal(await s.settleEcho(echo('lg:msg:1:r', 'other')), true);
      assert.equal(await s.pruneEchoes(Date.now() - 60_000), 0, 'nothing that old');
      // At most as many as asked, the oldest first; each record forgotten once, across stores.
      assert.equal(await other.pruneEchoes(Date.now() + 1, 2), 2);
      assert.equal(await s.echoSettledBy('zim:msg:2:r'), 'receiver', 'not among the oldest two');
      assert.equal(await s.pruneEchoes(Date.now() + 1), 3);
      assert.equal(await s.pruneEchoes(Date.now() + 1), 0, 'each record forgotten once');
      assert.equal(await s.echoSettledBy('zim:msg:0:r'), null, 'forgotten');
      assert.equal(await s.echoesSettledByReceivers('acme'), 3, 'still counted');
      assert.equal(await other.echoesSettledByReceivers('other'), 1);
      // Recorded again after that (a redelivery later than the records are kept): counted on top.
      assert.equal(await s.settleEcho(echo('zim:msg:0:r')), true);
      assert.equal(await s.echoesSettledByReceivers('acme'), 4);
      await other.pruneEchoes(Date.now() + 1);
      assert.equal(await s.echoesSettledByReceivers('acme'), 4);
    }));

  it('forgets a body only once every message it was put for is settled since before the time, and looks at it again later when not', () =>
    two(async (s, other) => {
      const L = (originId: string) => [{ origin: 'legacy' as const, originId }];
      const Z = (originId: string) => [{ origin: 'zim' as const, originId }];
      // Mirrored (SENT), and refused for good (settleBodies): settled.
      const sent = await s.putBody('mirrored', L('L1'));
      await s.markSent('legacy', 'L1', 'peer:a:b', 'z1');
      const refusedRef = await s.putBody('refused', Z('Z1'));
      await s.recordIntent('zim', 'Z1', 'peer:a:b');
      await other.settleBodies('zim', ['Z1']);
      // Held by the import handoff (no ledger row yet), in flight (INTENT), parked after a refusal a retry undid.
      const held = await s.putBody('held', L('L2'));
      const inFlight = await s.putBody('in flight', Z('Z2'));
      await s.recordIntent('zim', 'Z2', 'peer:a:b');
      const parked = await s.putBody('parked', Z('Z3'));
      await s.recordIntent('zim', 'Z3', 'peer:a:b');
      await s.settleBodies('zim', ['Z3']);
      const event = { eventKey: 'zim:msg:Z3:v', origin: 'zim', conv: 'peer:a:b', kind: 'message' } as const;
      await other.park({
        conv: 'peer:a:b',
        eventKey: event.eventKey,
        origin: 'zim',
        subject: 'Z3',
        reason: 'r',
        action: 'a',
        event: { ...event, occurredAt: 1, order: 1, from: 'a', to: 'b', bodyRef: parked, msgId: 'Z3' },
      });
      // One text, two messages: one mirrored, the other held.
      const shared = await s.putBody('ok', L('L4'));
      await s.markSent('legacy', 'L4', 'peer:a:b', 'z4');
      assert.equal(await other.putBody('ok', L('L5')), shared);
      // Put for no message (a group profile): kept for good.
      const profile = await s.putBody('{"name":"g"}');
      const all = [sent, refusedRef, held, inFlight, parked, shared, profile];

      const late = await s.putBody('settled late', L('L6'));
      assert.equal(await s.pruneBodies(Date.now() - 60_000), 0, 'none put that long ago');
      await tick();
      const putBefore = Date.now();
      await tick();
      // Settled after the time asked: kept until a later prune.
      await s.markSent('legacy', 'L6', 'peer:a:b', 'z6');
      assert.equal(await other.pruneBodies(putBefore), 2, 'the mirrored and the refused');
      assert.deepEqual(
        await Promise.all(all.map((r) => has(s, r))),
        [false, false, true, true, true, true, true],
        'held, in flight, parked, shared with a held message and a profile kept'
      );
      assert.equal(await has(s, late), true, 'mirrored after the time asked');
      assert.equal(await s.pruneBodies(Date.now() + 1), 1, 'settled since: forgotten now');
      assert.equal(await has(s, late), false);

      // The others were dated anew: not looked at again before a retention later.
      await s.markSent('legacy', 'L2', 'peer:a:b', 'z2');
      assert.equal(await s.pruneBodies(putBefore), 0, 'looked at again only later');
      assert.equal(await s.pruneBodies(Date.now() + 1), 1, 'the held one, mirrored since');
      assert.equal(await has(other, held), false);
      await s.markSent('legacy', 'L5', 'peer:a:b', 'z5');
      assert.equal(await other.pruneBodies(Date.now() + 1), 1, 'the shared text, both its messages mirrored');
      assert.deepEqual(await Promise.all([inFlight, parked, profile].map((r) => has(s, r))), [true, true, true]);

      // Put again (a redelivery, or a new message with the same text): stored again, open again.
      assert.equal(await s.putBody('mirrored', L('L1')), sent);
      assert.equal(await s.body(sent), 'mirrored');
      assert.equal(await s.pruneBodies(Date.now() - 60_000), 0, 'put just now');
      await s.settleBodies('zim', ['Z2']);
      assert.equal(await s.putBody('in flight', Z('Z2')), inFlight);
      assert.equal(await s.pruneBodies(Date.now() + 1), 1, 'the mirrored one: one settled, then put again, is open');
      assert.equal(await has(s, inFlight), true);

      // Each put dates the body anew, its messages settled or not (in PostgreSQL, a prune racing a put skips the row
      // by that date).
      const again = await s.putBody('again', L('L7'));
      await s.markSent('legacy', 'L7', 'peer:a:b', 'z7');
      await tick();
      const between = Date.now();
      await tick();
      assert.equal(await other.putBody('again', L('L7')), again, 'a redelivery');
      assert.equal(await s.pruneBodies(between), 0, 'put again since');
      assert.equal(await s.pruneBodies(Date.now() + 1), 1);
    }));

  it('settles every body of several messages at once (an edit too); a park opens them again', () =>
    one(async (s) => {
      const Z = (originId: string) => [{ origin: 'zim' as const, originId }];
      const first = await s.putBody('first', Z('Z5'));
      const edited = await s.putBody('first, edited', Z('Z5'));
      const other = await s.putBody('other', Z('Z6'));
      const open = await s.putBody('open', Z('Z7'));
      await s.settleBodies('zim', ['Z5', 'Z6', 'Z9']);
      await s.settleBodies('zim', []);
      await s.settleBodies('legacy', ['Z7']);
      assert.equal(await s.pruneBodies(Date.now() + 1), 3);
      assert.deepEqual(await Promise.all([first, edited, other, open].map((r) => has(s, r))), [
        false,
        false,
        false,
        true,
      ]);

      const parked = await s.putBody('parked', Z('Z8'));
      const parkedEdit = await s.putBody('parked, edited', Z('Z8'));
      await s.settleBodies('zim', ['Z8']);
      await s.park({
        conv: 'peer:a:b',
        eventKey: 'zim:msg:Z8:v',
        origin: 'zim',
        subject: 'Z8',
        reason: 'r',
        action: 'a',
        event: {
          eventKey: 'zim:msg:Z8:v',
          origin: 'zim',
          conv: 'peer:a:b',
          kind: 'message',
          occurredAt: 1,
          order: 1,
          bodyRef: parkedEdit,
          msgId: 'Z8',
        },
      });
      assert.equal(await s.pruneBodies(Date.now() + 1), 0);
      assert.deepEqual(await Promise.all([parked, parkedEdit].map((r) => has(s, r))), [true, true]);
    }));

  it('forgets at most as many bodies as asked, oldest first, once each across stores; one still in use takes a place', () =>
    two(async (s, other, at) => {
      const refs: string[] = [];
      const open = await s.putBody('in flight', [{ origin: 'zim', originId: 'open' }]);
      for (let i = 0; i < 5; i++) {
        await tick();
        refs.push(await s.putBody(`body ${i}`, [{ origin: 'legacy', originId: `L${i}` }]));
        await s.markSent('legacy', `L${i}`, 'peer:a:b', `z${i}`);
      }
      await tick();
      const before = Date.now() + 1;
      assert.equal(await other.pruneBodies(before, 3), 2, 'the one in flight was the oldest of the three');
      assert.deepEqual(await Promise.all(refs.map((r) => has(s, r))), [false, false, true, true, true]);
      // The three left, racing for two each: each forgotten by one of them (the one in flight only looked at).
      const [x, y] = await Promise.all([s.pruneBodies(before, 2), other.pruneBodies(before, 2)]);
      assert.equal(x + y, 3, `${x} + ${y}`);
      await s.pruneBodies(before);
      assert.deepEqual(await Promise.all(refs.map((r) => has(other, r))), [false, false, false, false, false]);
      assert.equal(await has(s, open), true);
      assert.equal(await s.pruneBodies(Date.now() + 1), 0, 'each forgotten once');
      assert.equal(await sut.countBodyUses(at), 1, 'the uses of a body forgotten go with it');
    }));

  it('keeps a body a put races a prune for: pruned first, it is stored again; put first, it is not pruned', () =>
    two(async (s, other) => {
      for (let i = 0; i < 20; i++) {
        const text = `raced ${i}`;
        const ref = await s.putBody(text, [{ origin: 'legacy', originId: `L${i}` }]);
        await s.markSent('legacy', `L${i}`, 'peer:a:b', `z${i}`);
        await tick();
        const before = Date.now();
        const [, again] = await Promise.all([
          other.pruneBodies(before),
          s.putBody(text, [{ origin: 'legacy', originId: `M${i}` }]),
        ]);
        assert.equal(again, ref);
        assert.equal(await other.body(ref), text, `race ${i}`);
        assert.equal(await s.pruneBodies(Date.now() + 1), 0, `race ${i}: the message put for last is not mirrored`);
      }
    }));

  it('forgets a body unused for the bound whatever its messages say, never one a parked event names; a hold or a retry uses it', () =>
    two(async (s, other) => {
      const L = (originId: string) => [{ origin: 'legacy' as const, originId }];
      const Z = (originId: string) => [{ origin: 'zim' as const, originId }];
      // Refused, then redelivered: the redelivery opens its use again, and its workflow drops it as a duplicate.
      const refused = await s.putBody('refused, redelivered', Z('Z1'));
      await s.recordIntent('zim', 'Z1', 'peer:a:b');
      await s.settleBodies('zim', ['Z1']);
      assert.equal(await other.putBody('refused, redelivered', Z('Z1')), refused);
      // Stored by a receiver whose hand-off failed and was never retried (no ledger row); a group profile (no message).
      const lost = await s.putBody('never handed off', L('L1'));
      const profile = await s.putBody('{"name":"g"}');
      // Parked: a message (INTENT) and a group creation, for an operator's retry some day.
      const parked = await s.putBody('parked', Z('Z2'));
      await s.recordIntent('zim', 'Z2', 'peer:a:b');
      await other.park(parkOf(zimMessage('Z2', parked)));
      const parkedProfile = await s.putBody('{"name":"parked"}');
      await other.park(
        parkOf({
          eventKey: 'lg:grp-1',
          origin: 'legacy',
          conv: 'group:g',
          kind: 'group',
          occurredAt: 1,
          order: 0,
          groupId: 'g',
          groupEvent: 'created',
          bodyRef: parkedProfile,
        })
      );
      // Held by the import handoff (no ledger row), however long the import takes.
      const held = await s.putBody('held', L('L2'));
      await tick();
      const cut = Date.now();
      await tick();
      const queued = await s.putBody('queued', L('L3'));
      const all = [refused, lost, profile, parked, parkedProfile, held, queued];
      assert.equal(await s.pruneBodies(Date.now() + 1), 0, 'each used within the bound');

      // The handoff's check, an hour and more later, marks what it holds used (an unknown reference is no error).
      await ahead(HOURS_2, () => other.keepBodies([held, 'b:unknown']));
      // Pruned as a bound after the cut: unused since before it, unless parked or held.
      assert.equal(await s.pruneBodies(Date.now() + 1, undefined, cut), 3, 'the refused, the lost, the profile');
      assert.deepEqual(
        await Promise.all(all.map((r) => has(other, r))),
        [false, false, false, true, true, true, true],
        'parked (a message and a group change), held, and used since the cut kept'
      );

      // A parked message retried: its body used now (its retry reads it). A body found kept is dated anew, its use
      // time kept: the queued one, unused since the second cut, goes at the next look.
      await tick();
      const cut2 = Date.now();
      await tick();
      await other.unpark('zim:msg:Z2:v');
      assert.equal(await other.pruneBodies(Date.now() + 1, undefined, cut2), 1, 'the queued one');
      assert.deepEqual(await Promise.all([parked, parkedProfile, held, queued].map((r) => has(s, r))), [
        true,
        true,
        true,
        false,
      ]);
      // Mirrored since its retry: the day's rule, as any message's.
      await s.markSent('zim', 'Z2', 'peer:a:b', 'l2');
      assert.equal(await s.pruneBodies(Date.now() + 1), 1);
      assert.equal(await has(s, parked), false);
    }));

  it('dates the bodies of a store made before bodies were pruned: forgotten once unused for the bound, unless parked or held', async () => {
    const at = sut.fresh();
    const L = (originId: string) => [{ origin: 'legacy' as const, originId }];
    const refs = await using(Promise.all([sut.open(at)]), async ([s]) => {
      const before = await s!.putBody('from before', L('L1'));
      await s!.markSent('legacy', 'L1', 'peer:a:b', 'z1');
      const parked = await s!.putBody('parked before', [{ origin: 'zim', originId: 'Z1' }]);
      await s!.recordIntent('zim', 'Z1', 'peer:a:b');
      await s!.park(parkOf(zimMessage('Z1', parked)));
      // Held by the import handoff across the upgrade, its event's reference in the workflow only.
      const held = await s!.putBody('held before', L('L2'));
      return { before, parked, held };
    });
    await sut.dropBodyTimes(at);
    await using(Promise.all([sut.open(at), sut.open(at)]), async ([s, t]) => {
      assert.equal(await s!.pruneBodies(Date.now() + 1), 0, 'kept for the bound from the upgrade');
      // The held text put again for a new message, mirrored since: that message settled does not settle the body
      // (put for none at the upgrade: its messages from before are not known); the handoff's check marks it used.
      assert.equal(await t!.putBody('held before', L('L3')), refs.held);
      await t!.markSent('legacy', 'L3', 'peer:a:b', 'z3');
      await ahead(HOURS_2, () => s!.keepBodies([refs.held]));
      assert.equal(await t!.pruneBodies(Date.now() + 1, undefined, Date.now() + 1), 1, 'the one from before');
      assert.deepEqual(await Promise.all([refs.before, refs.parked, refs.held].map((r) => has(s!, r))), [
        false,
        true,
        true,
      ]);
      const fresh = await s!.putBody('after', L('L4'));
      await s!.markSent('legacy', 'L4', 'peer:a:b', 'z4');
      assert.equal(await t!.pruneBodies(Date.now() + 1), 1);
      assert.equal(await has(s!, fresh), false);
    });
  });

  it('pages its conversations and users in key order, each once, and lists keys written between pages after the cursor', () =>
    two(async (s, other) => {
      assert.deepEqual(await s.conversationsAfter(undefined, 10), []);
      assert.deepEqual(await s.usersAfter(undefined, 10), []);
      await seedKeys(s);
      assert.deepEqual(await s.conversations(), SEEDED_CONVS);
      assert.deepEqual(bytewise(await s.users()), SEEDED_USERS);
      for (const limit of [1, 2, 4, 100]) {
        assert.deepEqual(await pageThrough((a, l) => s.conversationsAfter(a, l), limit), SEEDED_CONVS, `by ${limit}`);
        assert.deepEqual(await pageThrough((a, l) => s.usersAfter(a, l), limit), SEEDED_USERS, `by ${limit}`);
      }
      assert.deepEqual(await s.conversationsAfter('peer:a:b', 2), ['peer:c:f', 'peer:x:y']);
      assert.deepEqual(await s.usersAfter('f', 10), ['x', 'y', 'Ümit']);

      // Written by another process (its own pool or handle) while a listing pages: a key after the cursor is in a
      // later page, one before it is not (the next audit has it).
      let wrote = false;
      const convs = await pageThrough(
        (a, l) => s.conversationsAfter(a, l),
        2,
        async (after) => {
          if (wrote || after < 'peer:B:c') return;
          wrote = true;
          await other.recordIntent('legacy', 'l9', 'peer:q:r');
          await other.setGroup('a-early', { live: true, origin: 'zim', changedAt: 1 });
        }
      );
      assert.ok(wrote);
      assert.deepEqual(convs, [...SEEDED_CONVS.slice(0, 5), 'peer:q:r', 'peer:x:y']);
      assert.deepEqual(await s.conversations(), ['group:a-early', ...SEEDED_CONVS.slice(0, 5), 'peer:q:r', 'peer:x:y']);
      const users = await pageThrough(
        (a, l) => s.usersAfter(a, l),
        3,
        async (after) => {
          if (after === 'b') await other.setMembers('g', ['zed', '0'], { member: true, origin: 'zim', changedAt: 1 });
        }
      );
      assert.deepEqual(users, ['B', 'a', 'b', 'c', 'd', 'e', 'f', 'q', 'r', 'x', 'y', 'zed', 'Ümit']);
      assert.deepEqual(bytewise(await s.users()), ['0', ...users]);
    }));

  it('tells which of a few conversations it knows, and adds conversations it is told of (not their users)', () =>
    one(async (s) => {
      await seedKeys(s);
      assert.deepEqual(await s.knownOf([]), new Set());
      assert.deepEqual(
        await s.knownOf(['peer:a:b', 'peer:b:a', 'group:g', 'group:h', 'peer:n:m', 'peer:x:y']),
        new Set(['peer:a:b', 'group:g', 'peer:x:y'])
      );
      await s.noteConversations(['peer:w:v', 'group:z', 'peer:w:v']);
      await s.noteConversations([]);
      assert.deepEqual(await s.knownOf(['peer:w:v', 'group:z']), new Set(['peer:w:v', 'group:z']));
      assert.deepEqual(
        await pageThrough((a, l) => s.conversationsAfter(a, l), 3),
        [...SEEDED_CONVS.slice(0, 5), 'peer:w:v', 'peer:x:y', 'group:z'].sort()
      );
      assert.deepEqual(await pageThrough((a, l) => s.usersAfter(a, l), 3), SEEDED_USERS);
    }));

  it('fills its key tables from its rows when opened on a store made before them', async () => {
    const at = sut.fresh();
    await using(Promise.all([sut.open(at)]), ([s]) => seedKeys(s!));
    await sut.dropKeyTables(at);
    // Two processes opening the older store at once: the tables are made and filled once.
    await using(Promise.all([sut.open(at), sut.open(at)]), async ([s, t]) => {
      assert.deepEqual(await s!.conversations(), SEEDED_CONVS);
      assert.deepEqual(await pageThrough((a, l) => t!.conversationsAfter(a, l), 4), SEEDED_CONVS);
      assert.deepEqual(await pageThrough((a, l) => s!.usersAfter(a, l), 4), SEEDED_USERS);
      await t!.recordIntent('zim', 'z7', 'peer:o:p');
      assert.deepEqual(await s!.knownOf(['peer:o:p', 'peer:a:b']), new Set(['peer:o:p', 'peer:a:b']));
    });
  });

  it('makes its echoes table when opened on a store made before it, keeping its rows', async () => {
    const at = sut.fresh();
    await using(Promise.all([sut.open(at)]), ([s]) => s!.markSent('legacy', 'l1', 'peer:a:b', 'z1'));
    await sut.dropEchoes(at);
    await using(Promise.all([sut.open(at), sut.open(at)]), async ([s, t]) => {
      assert.equal((await t!.record('legacy', 'l1'))?.state, 'SENT');
      assert.equal(await s!.echoesSettledByReceivers('acme'), 0);
      assert.equal(await s!.settleEcho({ eventKey: 'zim:msg:9:r', conv: 'peer:a:b', sync: 'acme' }), true);
      assert.equal(await t!.echoesSettledByReceivers('acme'), 1);
    });
  });
}

/**
 * The handoff's question to the staging ledger (src/coexist/handoff-history.ts through its activity), on both
 * engines: a SQLite staging file and the same staging copied into PostgreSQL (a throwaway local server). Not there
 * yet, not opened by a migration yet, accounts not imported, one owner's copy still pending: not imported, with
 * what it waits for. Settled: imported, with the watermark and the asked ids the history holds (a message one owner
 * deleted still counts through the other's copy); a conversation not staged has nothing to wait for but accounts.
 * The bodies of the held messages it drops (the history holds them, or they are older than its newest) are
 * settled, so pruned; a newer one's is kept; the bodies of all it holds (a group change's profile too) are marked used.
 */
import assert from 'node:assert/strict';
import { copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHandoffActivities } from '../../activities/coexist-handoff';
import { openSqliteCoexistStore, type CoexistStore } from '../../src/coexist/coexist-store';
import { openStaging } from '../../src/staging';
import { copyStaging } from '../../src/staging/copy/copy-staging';
import { ledgerKeys } from '../../src/staging/ledger-keys';
import { stageExport, tempDir, writeExport } from '../helpers/exports';
import { useLocalPostgres } from '../helpers/local-postgres';
import { ahead } from '../helpers/coexist-store-cases';

const HOUR = 3_600_000;
const has = (s: CoexistStore, ref: string) =>
  s.body(ref).then(
    () => true,
    () => false
  );

const T = Date.now() - 3_600_000;
const msg = (id: string, from: string, to: string, at: number, extra: object = {}) => ({
  id,
  from,
  to,
  sentAt: at,
  type: 'text',
  body: { text: `text of ${id}` },
  ...extra,
});

describe('whether a conversation’s history is imported, from the staging ledger', { timeout: 120_000 }, () => {
  const pg = useLocalPostgres();
  let dir: string;
  let file: string;
  const url = () => `${pg.server().url}?schema=handoff`;

  before(async () => {
    dir = tempDir('handoff-history');
    const exportDir = writeExport(path.join(dir, 'export'), {
      'users.ndjson': ['ann', 'bob', 'cy'].map((id) => ({ id })),
      'groups.ndjson': [{ id: 'g1', owner: 'ann' }],
      'group_members.ndjson': [{ group: 'g1', user: 'bob' }],
      'peer_messages.ndjson': [
        msg('m1', 'ann', 'bob', T),
        msg('m2', 'bob', 'ann', T + 1_000, { deletedBy: ['ann'] }),
        msg('m3', 'ann', 'cy', T + 2_000),
      ],
      'group_messages.ndjson': [
        { id: 'x1', group: 'g1', from: 'bob', sentAt: T + 5_000, type: 'text', body: { text: 'x' } },
      ],
    });
    file = await stageExport(exportDir, path.join(dir, 'staging.db'), Date.now());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const engine of ['sqlite', 'postgres'] as const) {
    it(`answers from the ledger (${engine})`, async () => {
      const bodies = openSqliteCoexistStore(path.join(dir, `coexist-${engine}.sqlite`));
      const acts = createHandoffActivities({ env: pg.env(), store: bodies });
      // The bodies of the live messages held: those the history holds are dropped, so their bodies may go.
      const put = (id: string) => bodies.putBody(`live ${id}`, [{ origin: 'legacy', originId: id }]);
      const held = { m1: await put('m1'), m2: await put('m2'), old: await put('old'), live: await put('live') };
      // Their times, as the workflow passes them: `old` is older than the history's newest (m2, T + 1000) without
      // the history holding it, so dropped too; `live` is newer.
      const times = { m1: T, m2: T + 1_000, old: T + 500, live: T + 2_000 };
      const kept = async (): Promise<Record<string, boolean>> => {
        const out: Record<string, boolean> = {};
        for (const [id, ref] of Object.entries(held))
          out[id] = await bodies.body(ref).then(
            () => true,
            () => false
          );
        return out;
      };
      try {
        let location: string;
        if (engine === 'sqlite') {
          location = path.join(dir, 'copy.db');
          assert.deepEqual(await acts.handoffHistory(location, 'peer:ann:bob', ['m1']), {
            imported: false,
            waiting: `no staging at ${location} yet`,
          });
          // As `plan --out` leaves it: no migration has opened it yet.
          copyFileSync(file, location);
          const fresh = await acts.handoffHistory(location, 'peer:ann:bob', ['m1']);
          assert.ok(!fresh.imported && /import not started yet/.test(fresh.waiting), JSON.stringify(fresh));
        } else {
          location = url();
          const empty = await acts.handoffHistory(location, 'peer:ann:bob', ['m1']);
          assert.ok(!empty.imported && /staging not readable yet/.test(empty.waiting), JSON.stringify(empty));
          await copyStaging(file, location, { env: pg.env() });
        }
        // The migration opens it writable (readying its ledger), as `start` does.
        const store = await openStaging(location, {}, pg.env());
        try {
          assert.deepEqual(await acts.handoffHistory(location, 'peer:ann:bob', ['m1']), {
            imported: false,
            waiting: 'accounts: 0 of 3 users imported',
          });
          await store.ledgerPut(
            'accounts',
            ['ann', 'bob', 'cy'].map((u) => ({ key: ledgerKeys.user(u), status: 'done' as const }))
          );
          // Not staged: nothing to wait for once the users are registered.
          assert.deepEqual(await acts.handoffHistory(location, 'peer:bob:cy', ['z']), {
            imported: true,
            watermark: null,
            inHistory: [],
          });
          // ann's copy holds m1 only (she deleted m2); bob's holds both.
          await store.ledgerPut('peer-messages', [
            { key: ledgerKeys.message('ann', 'm1'), status: 'done' },
            { key: ledgerKeys.message('bob', 'm1'), status: 'done' },
          ]);
          // The check, hours after the puts, passes the references of all it holds (a group change's profile too,
          // put for no message): marked used, so not forgotten as unused however long the import takes.
          const heldProfile = await bodies.putBody('{"name":"held"}');
          const appliedProfile = await bodies.putBody('{"name":"applied"}');
          const refs = [...Object.values(held), heldProfile];
          assert.deepEqual(
            await ahead(HOUR * 2, () =>
              acts.handoffHistory(location, 'peer:ann:bob', ['m1', 'm2', 'old', 'live'], times, refs)
            ),
            { imported: false, waiting: '2 of 3 staged messages imported' }
          );
          assert.equal(await bodies.pruneBodies(Date.now() + 1), 0, 'not imported: every body kept');
          assert.equal(
            await bodies.pruneBodies(Date.now() + 1, undefined, Date.now() + 1),
            1,
            'pruned as a bound later: the held kept, the profile nothing holds forgotten'
          );
          assert.deepEqual(await Promise.all([heldProfile, appliedProfile].map((r) => has(bodies, r))), [true, false]);
          await store.ledgerPut('peer-messages', [{ key: ledgerKeys.message('bob', 'm2'), status: 'failed' }]);
          const settled = await acts.handoffHistory(location, 'peer:ann:bob', ['m1', 'm2', 'old', 'live'], times);
          // Later than a day after that check's time (its bodies were held then).
          await bodies.pruneBodies(Date.now() + HOUR * 3);
          assert.deepEqual(await kept(), { m1: false, m2: false, old: false, live: true });
          assert.deepEqual(
            { ...settled, inHistory: settled.imported ? [...settled.inHistory].sort() : [] },
            {
              imported: true,
              watermark: T + 1_000,
              inHistory: ['m1', 'm2'],
            }
          );
          // A staged group waits for its creation, then for its messages.
          assert.deepEqual(await acts.handoffHistory(location, 'group:g1', ['x1']), {
            imported: false,
            waiting: 'group g1 not created yet',
          });
          await store.ledgerPut('groups', [{ key: ledgerKeys.member('g1', 'ann'), status: 'done' }]);
          await store.ledgerPut('group-messages', [{ key: ledgerKeys.message('g1', 'x1'), status: 'done' }]);
          assert.deepEqual(await acts.handoffHistory(location, 'group:g1', ['x1', 'x2']), {
            imported: true,
            watermark: T + 5_000,
            inHistory: ['x1'],
          });
        } finally {
          await store.close();
        }
      } finally {
        await acts.closeHandoffStores();
        await bodies.close();
      }
    });
  }
});

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LegacyRoutingEvent } from '../../src/coexist/legacy-contract';
import { LegacyStore } from '../../src/legacy-server/store';
import { takeLegacyExport } from '../../src/testing/legacy-export';
import { seedLegacyFromExport, type SeededIds } from '../../src/testing/seed-legacy';

const dir = mkdtempSync(path.join(tmpdir(), 'seed-legacy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A sample export: a group with a deactivated member (the import gives such a user no membership). */
const sample = path.join(dir, 'sample');
const ndjson = (file: string, lines: object[]) =>
  writeFileSync(path.join(sample, file), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
mkdirSync(sample);
ndjson('users.ndjson', [{ id: 'u0' }, { id: 'u1' }, { id: 'u2', deactivated: true }]);
ndjson('groups.ndjson', [{ id: 'g0', name: 'G', owner: 'u0', notice: 'hi', createdAt: '2026-01-01T00:00:00Z' }]);
ndjson('group_members.ndjson', [
  { group: 'g0', user: 'u0', role: 'owner' },
  { group: 'g0', user: 'u1' },
  { group: 'g0', user: 'u2' },
]);
ndjson('peer_messages.ndjson', [
  { id: 'pm1', from: 'u1', to: 'u0', sentAt: 2_000, type: 'text', body: { text: 'second' } },
  { id: 'pm0', from: 'u0', to: 'u1', sentAt: 1_000, type: 'text', body: { text: 'first' } },
]);
ndjson('group_messages.ndjson', [
  { id: 'gm0', group: 'g0', from: 'u1', sentAt: 1_500, type: 'custom', body: { subType: 1, content: 'x' } },
]);

describe('the rehearsal legacy server seeded with its sample export', () => {
  const events: LegacyRoutingEvent[] = [];
  const store = new LegacyStore({ originTag: true, clientMsgId: true }, (e) => events.push(e));
  let seeded: SeededIds;
  before(async () => {
    seeded = await seedLegacyFromExport(store, sample);
  });

  it('holds every group of the export, with the members and profile the import gives ZIM, routing nothing', () => {
    assert.deepEqual(
      { ...store.group('g0'), createdAt: undefined },
      { groupId: 'g0', name: 'G', owner: 'u0', members: ['u0', 'u1'], notice: 'hi', avatar: '', createdAt: undefined }
    );
    assert.deepEqual([...store.users].sort(), ['u0', 'u1', 'u2']);
    assert.deepEqual(
      store.page('peer:u0:u1', 0, 10).messages.map((m) => [m.seq, m.id, m.body]),
      [
        [1, 'pm0', 'first'],
        [2, 'pm1', 'second'],
      ]
    );
    assert.equal(store.page('group:g0', 0, 10).messages[0]!.id, 'gm0');
    assert.equal(events.length, 0);
  });

  it('the export adds only what the server holds beyond the sample (nothing twice)', () => {
    store.send({ from: 'u1', to: 'u0', body: 'live' });
    const out = path.join(dir, 'export');
    assert.equal(takeLegacyExport(store, sample, seeded, out), 1);
    const lines = (f: string) => readFileSync(path.join(out, f), 'utf8').trim().split('\n').length;
    assert.deepEqual(
      ['users', 'groups', 'group_members', 'peer_messages', 'group_messages'].map((f) => lines(`${f}.ndjson`)),
      [3, 1, 3, 3, 1]
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LegacyRoutingEvent } from '../../src/coexist/legacy-contract';
import { LegacyRefusal, LegacyStore } from '../../src/legacy-server/store';

function store(echo = { originTag: true, clientMsgId: true }) {
  const events: LegacyRoutingEvent[] = [];
  const s = new LegacyStore(
    echo,
    (e) => events.push(e),
    () => 1_000
  );
  s.addUsers(['ann', 'bob', 'cy']);
  return { s, events };
}

describe('reference legacy store', () => {
  it('numbers each conversation 1, 2, 3… on its own, both directions of a pair sharing one sequence', () => {
    const { s } = store();
    assert.equal(s.send({ from: 'ann', to: 'bob', body: 'a' }).seq, 1);
    assert.equal(s.send({ from: 'bob', to: 'ann', body: 'b' }).seq, 2);
    assert.equal(s.send({ from: 'ann', to: 'cy', body: 'c' }).seq, 1);
    s.createGroup({ operator: 'ann', groupId: 'g', name: 'G', members: ['bob'] });
    assert.equal(s.send({ from: 'bob', groupId: 'g', body: 'd' }).seq, 1);
    assert.deepEqual(
      s.page('peer:ann:bob', 1, 10).messages.map((m) => m.body),
      ['b']
    );
    assert.equal(s.page('peer:ann:bob', 0, 10).position, 2);
  });

  it('answers a write repeating a clientMsgId with the stored message, writing and routing nothing more', () => {
    const { s, events } = store();
    const first = s.send({ from: 'ann', to: 'bob', body: 'x', clientMsgId: 'zim-1' });
    const again = s.send({ from: 'ann', to: 'bob', body: 'x', clientMsgId: 'zim-1' });
    assert.deepEqual(again, first);
    assert.equal(s.page('peer:ann:bob', 0, 10).messages.length, 1);
    assert.equal(events.length, 1);
    // Without a clientMsgId (an App 1.0 user's own send) the same body is a second message.
    s.send({ from: 'ann', to: 'bob', body: 'x' });
    s.send({ from: 'ann', to: 'bob', body: 'x' });
    assert.equal(s.page('peer:ann:bob', 0, 10).messages.length, 3);
  });

  it('routes every write, ours included, with the echo fields it is configured to return', () => {
    for (const [echo, expected] of [
      [
        { originTag: true, clientMsgId: true },
        { originTag: 'zm', clientMsgId: 'c1' },
      ],
      [{ originTag: true, clientMsgId: false }, { originTag: 'zm' }],
      [{ originTag: false, clientMsgId: true }, { clientMsgId: 'c1' }],
      [{ originTag: false, clientMsgId: false }, {}],
    ] as const) {
      const { s, events } = store(echo);
      const stored = s.send({ from: 'ann', to: 'bob', body: 'x', originTag: 'zm', clientMsgId: 'c1' });
      assert.equal(stored.originTag, 'zm', 'always stored');
      const e = events[0]!;
      assert.equal(e.type, 'message.created');
      if (e.type !== 'message.created') return;
      assert.equal(e.message.originTag, (expected as { originTag?: string }).originTag);
      assert.equal(e.message.clientMsgId, (expected as { clientMsgId?: string }).clientMsgId);
    }
  });

  it('refuses unknown users and non-members; gives each event its own id', () => {
    const { s, events } = store();
    assert.throws(() => s.send({ from: 'zed', to: 'bob', body: 'x' }), LegacyRefusal);
    s.createGroup({ operator: 'ann', groupId: 'g', name: 'G', members: [] });
    assert.throws(() => s.send({ from: 'bob', groupId: 'g', body: 'x' }), LegacyRefusal);
    s.send({ from: 'ann', groupId: 'g', body: 'x' });
    assert.equal(new Set(events.map((e) => e.eventId)).size, events.length);
  });

  it('applies membership convergently: a no-op change routes nothing', () => {
    const { s, events } = store();
    s.createGroup({ operator: 'ann', groupId: 'g', name: 'G', members: ['bob'] });
    s.join('g', 'ann', ['bob']);
    s.leave('g', 'ann', ['cy']);
    assert.deepEqual(
      events.map((e) => e.type),
      ['group.created']
    );
    s.join('g', 'ann', ['cy', 'bob']);
    s.leave('g', 'ann', ['bob']);
    s.dismiss('g', 'ann');
    assert.deepEqual(
      events.map((e) => e.type),
      ['group.created', 'group.members_joined', 'group.members_left', 'group.dismissed']
    );
  });
});

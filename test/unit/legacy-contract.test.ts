import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { COEXIST_SCHEMA_FILE, renderCoexistSchema } from '../../src/coexist/json-schema';
import {
  conversationKey,
  LegacyRoutingEventSchema,
  LegacySendRequestSchema,
  NoEchoIdentificationError,
  requireEchoIdentification,
} from '../../src/coexist/legacy-contract';
import { signLegacyEvent, verifyLegacySignature } from '../../src/coexist/legacy-signature';

describe('legacy contract', () => {
  it('docs/coexistence.schema.json is what the zod schemas generate (npm run schema:coexist)', () => {
    assert.equal(readFileSync(COEXIST_SCHEMA_FILE, 'utf8'), renderCoexistSchema());
  });

  it('refuses an adapter that offers no echo identification, accepts either or both', () => {
    const caps = (originTag: boolean, clientMsgId: boolean) => ({
      contractVersion: 1 as const,
      echoIdentification: { originTag, clientMsgId },
    });
    assert.throws(() => requireEchoIdentification(caps(false, false)), NoEchoIdentificationError);
    assert.deepEqual(requireEchoIdentification(caps(true, false)), ['originTag']);
    assert.deepEqual(requireEchoIdentification(caps(false, true)), ['clientMsgId']);
    assert.deepEqual(requireEchoIdentification(caps(true, true)), ['originTag', 'clientMsgId']);
  });

  it('keys a one-to-one conversation by its sorted pair, a group by its id', () => {
    assert.equal(conversationKey({ kind: 'peer', users: ['zoe', 'adam'] }), 'peer:adam:zoe');
    assert.equal(conversationKey({ kind: 'peer', users: ['adam', 'zoe'] }), 'peer:adam:zoe');
    assert.equal(conversationKey({ kind: 'group', groupId: 'g1' }), 'group:g1');
  });

  it('validates routing events and send requests', () => {
    const ok = LegacyRoutingEventSchema.safeParse({
      eventId: 'e1',
      occurredAt: 1,
      type: 'message.created',
      conversation: { kind: 'group', groupId: 'g' },
      message: { id: 'm1', seq: 1, from: 'a', body: 'hi', sentAt: 1 },
    });
    assert.equal(ok.success, true);
    assert.equal(LegacyRoutingEventSchema.safeParse({ eventId: 'e', occurredAt: 1, type: 'nope' }).success, false);
    assert.equal(LegacySendRequestSchema.safeParse({ from: 'a', body: 'x' }).success, false);
    assert.equal(LegacySendRequestSchema.safeParse({ from: 'a', to: 'b', groupId: 'g', body: 'x' }).success, false);
  });
});

describe('legacy webhook signature', () => {
  const body = Buffer.from('{"eventId":"e1"}');
  const ts = '1700000000';
  const sig = signLegacyEvent('s3cret', ts, body);

  it('accepts its own signature within the freshness window', () => {
    assert.equal(verifyLegacySignature('s3cret', { timestamp: ts, signature: sig, rawBody: body }, 1700000100), 'ok');
  });
  it('refuses another secret, another body, a malformed or missing signature', () => {
    const v = (secret: string, signature: string | undefined, raw = body, t: string | undefined = ts) =>
      verifyLegacySignature(secret, { timestamp: t, signature, rawBody: raw }, 1700000000);
    assert.equal(v('other', sig), 'bad-signature');
    assert.equal(v('s3cret', sig, Buffer.from('{"eventId":"e2"}')), 'bad-signature');
    assert.equal(v('s3cret', 'v1=zz'), 'bad-signature');
    assert.equal(v('s3cret', undefined), 'bad-signature');
    assert.equal(
      verifyLegacySignature('s3cret', { timestamp: undefined, signature: sig, rawBody: body }, 1700000000),
      'bad-signature'
    );
    assert.equal(v('', sig), 'bad-signature');
  });
  it('refuses a stale or future timestamp even with a valid signature', () => {
    assert.equal(
      verifyLegacySignature('s3cret', { timestamp: ts, signature: sig, rawBody: body }, 1700000301),
      'stale'
    );
    assert.equal(
      verifyLegacySignature('s3cret', { timestamp: ts, signature: sig, rawBody: body }, 1699999699),
      'stale'
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newSignatureNonce, signZimRequest, zimSignature } from '../../src/zim-client/signature';

describe('ZIM request signature (zim-api.md §3)', () => {
  it('matches the documented test vector', () => {
    assert.equal(
      zimSignature(12345, '4fd24687296dd9f3', '9193cc662a4c0ec135ec71fb57194b38', 1615186943),
      '43e5cfcca828314675f91b001390566a'
    );
  });

  it('signs the common query parameters with the given nonce and timestamp', () => {
    const q = signZimRequest({
      appId: 12345,
      serverSecret: '9193cc662a4c0ec135ec71fb57194b38',
      nonce: '4fd24687296dd9f3',
      timestampSeconds: 1615186943,
    });
    assert.deepEqual(q, {
      AppId: '12345',
      SignatureNonce: '4fd24687296dd9f3',
      Timestamp: '1615186943',
      SignatureVersion: '2.0',
      Signature: '43e5cfcca828314675f91b001390566a',
    });
  });

  it('uses a fresh 16-hex-digit nonce and the current time in seconds for every request', () => {
    const before = Math.floor(Date.now() / 1000);
    const a = signZimRequest({ appId: 1, serverSecret: 's' });
    const b = signZimRequest({ appId: 1, serverSecret: 's' });
    assert.match(a.SignatureNonce, /^[0-9a-f]{16}$/);
    assert.notEqual(a.SignatureNonce, b.SignatureNonce);
    assert.notEqual(a.Signature, b.Signature);
    assert.ok(Number(a.Timestamp) >= before && Number(a.Timestamp) <= before + 2);
    assert.equal(new Set(Array.from({ length: 200 }, newSignatureNonce)).size, 200);
  });

  it('never puts the secret itself into the signed parameters', () => {
    const secret = 'very-secret-value-0123456789abcd';
    assert.ok(!JSON.stringify(signZimRequest({ appId: 7, serverSecret: secret })).includes(secret));
  });
});

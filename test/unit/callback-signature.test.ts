import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signCallback, verifyCallbackSignature } from '../../src/zim-callbacks';

describe('ZIM callback signature (coexistence.md §3.2)', () => {
  it("reproduces the documented vector: sha1 of the sorted concatenation '1234121470820198secret'", () => {
    const signature = signCallback('secret', { timestamp: 1470820198, nonce: '123412' });
    assert.equal(signature, '5bd59fd62953a8059fb7eaba95720f66d19e4517');
  });

  it('verifies its own signatures, with the timestamp and nonce as strings or numbers', () => {
    const signature = signCallback('s3cret', { timestamp: '1700000000', nonce: 42 });
    assert.ok(verifyCallbackSignature('s3cret', { timestamp: 1700000000, nonce: '42', signature }));
    assert.ok(
      verifyCallbackSignature('s3cret', { timestamp: 1700000000, nonce: '42', signature: signature.toUpperCase() })
    );
  });

  it('refuses a wrong secret, a changed timestamp or nonce, and malformed signatures', () => {
    const parts = { timestamp: '1700000000', nonce: '42' };
    const signature = signCallback('s3cret', parts);
    assert.equal(verifyCallbackSignature('other', { ...parts, signature }), false);
    assert.equal(verifyCallbackSignature('s3cret', { ...parts, timestamp: '1700000001', signature }), false);
    assert.equal(verifyCallbackSignature('s3cret', { ...parts, nonce: '43', signature }), false);
    const flipped = (signature[0] === 'a' ? 'b' : 'a') + signature.slice(1);
    assert.equal(verifyCallbackSignature('s3cret', { ...parts, signature: flipped }), false);
    for (const bad of ['', 'zz', signature.slice(0, 39), `${signature}00`, 'g'.repeat(40)]) {
      assert.equal(verifyCallbackSignature('s3cret', { ...parts, signature: bad }), false, bad);
    }
    assert.equal(verifyCallbackSignature('', { ...parts, signature: signCallback('', parts) }), false);
  });
});

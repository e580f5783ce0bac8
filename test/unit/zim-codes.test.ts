import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyZimCode, ClientCode, ZimCode, zimCodeName } from '../../src/zim-client/codes';
import {
  outcomeOfCode,
  zimErrorForCode,
  ZimAlreadyExistsError,
  ZimPermanentError,
  ZimRetryableError,
} from '../../src/zim-client/errors';
import { ZIM_BATCH_LIMITS, ZIM_GROUP_RATE_LIMITS, ZIM_RATE_LIMITS } from '../../src/zim-client/limits';

const KNOWN = new Set<number>(Object.values(ZimCode));

describe('ZIM code table', () => {
  it('classifies every rate-limit code of the limits table as rate-limited', () => {
    for (const { code } of [...Object.values(ZIM_RATE_LIMITS), ...Object.values(ZIM_GROUP_RATE_LIMITS)]) {
      assert.equal(classifyZimCode(code), 'rate-limited', `code ${code}`);
    }
    assert.equal(classifyZimCode(ZimCode.OVERLOAD), 'rate-limited');
  });

  it('uses only known codes in the limits tables', () => {
    for (const { code } of [...Object.values(ZIM_RATE_LIMITS), ...Object.values(ZIM_BATCH_LIMITS)]) {
      assert.ok(KNOWN.has(code), `code ${code} is not in ZimCode`);
    }
  });

  const cases: Array<[number, string, string]> = [
    [ZimCode.SUCCESS, 'success', 'permanent'],
    [ZimCode.USER_ALREADY_EXISTS, 'already-exists', 'already-exists'],
    [ZimCode.ALREADY_FRIENDS, 'already-exists', 'already-exists'],
    [ZimCode.ALREADY_BLOCKED, 'already-exists', 'already-exists'],
    [ZimCode.GROUP_EXISTS, 'already-exists', 'already-exists'],
    [ZimCode.SERVER_BUSY, 'retryable', 'retryable'],
    [ZimCode.GENERAL_RETRY, 'retryable', 'retryable'],
    [ZimCode.APP_RATE_LIMITED, 'rate-limited', 'retryable'],
    [ZimCode.SIGNATURE_ERROR, 'permanent', 'permanent'],
    [ZimCode.MESSAGE_TOO_LARGE, 'permanent', 'permanent'],
    [ZimCode.SENDER_NOT_REGISTERED, 'permanent', 'permanent'],
    [ZimCode.GROUP_NOT_FOUND, 'permanent', 'permanent'],
    [123456789, 'permanent', 'permanent'],
  ];
  for (const [code, cls, outcome] of cases) {
    it(`treats ${code} (${zimCodeName(code) ?? 'unknown'}) as ${cls}`, () => {
      assert.equal(classifyZimCode(code), cls);
      if (code !== 0) assert.equal(outcomeOfCode(code), outcome);
    });
  }

  it('builds the error subclass that matches the class, carrying action, code and message', () => {
    const base = { action: 'ImportPeerMsg', zimMessage: 'm', requestId: 'r1' };
    const limited = zimErrorForCode({ ...base, code: ZimCode.APP_RATE_LIMITED });
    assert.ok(limited instanceof ZimRetryableError);
    assert.equal(limited.reason, 'rate-limited');
    const busy = zimErrorForCode({ ...base, code: ZimCode.SERVER_BUSY });
    assert.ok(busy instanceof ZimRetryableError && busy.reason === 'server-busy');
    const exists = zimErrorForCode({ ...base, code: ZimCode.GROUP_EXISTS });
    assert.ok(exists instanceof ZimAlreadyExistsError && exists instanceof ZimPermanentError);
    assert.equal(exists.outcome, 'already-exists');
    const permanent = zimErrorForCode({ ...base, code: ZimCode.MESSAGE_TOO_LARGE, item: 'u1' });
    assert.ok(permanent instanceof ZimPermanentError && !(permanent instanceof ZimAlreadyExistsError));
    assert.deepEqual(
      [permanent.action, permanent.code, permanent.zimMessage, permanent.requestId, permanent.item],
      ['ImportPeerMsg', ZimCode.MESSAGE_TOO_LARGE, 'm', 'r1', 'u1']
    );
    assert.match(permanent.message, /ImportPeerMsg.*660400001.*MESSAGE_TOO_LARGE.*u1/);
  });

  it('keeps client pseudo codes negative so they never collide with ZIM codes', () => {
    for (const code of Object.values(ClientCode)) assert.ok(code < 0 && !KNOWN.has(code));
  });
});

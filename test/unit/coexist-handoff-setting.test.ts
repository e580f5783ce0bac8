import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  DEFAULT_CHECK_EVERY_MS,
  DEFAULT_HOLD_LIMIT,
  handoffFromMemo,
  handoffSetting,
  HandoffSettingError,
} from '../../src/coexist/handoff-setting';

describe('the handoff setting (coexist start --handoff)', () => {
  it('takes a file path (made absolute) or a postgres URL, with the defaults', () => {
    assert.deepEqual(handoffSetting('staging.db'), {
      staging: path.resolve('staging.db'),
      checkEveryMs: DEFAULT_CHECK_EVERY_MS,
      holdLimit: DEFAULT_HOLD_LIMIT,
    });
    assert.equal(handoffSetting('postgres://zim@db/zim?schema=acme').staging, 'postgres://zim@db/zim?schema=acme');
  });

  it('refuses a URL holding a password, without printing it', () => {
    assert.throws(
      () => handoffSetting('postgres://zim:s3cret-pw@db/zim'),
      (err: Error) =>
        err instanceof HandoffSettingError && /holds a password/.test(err.message) && !/s3cret-pw/.test(err.message)
    );
  });

  it('reads the memo: absent is no handoff, a malformed one throws (the receiver answers 503)', () => {
    assert.equal(handoffFromMemo(undefined), undefined);
    assert.equal(handoffFromMemo({}), undefined);
    const setting = handoffSetting('staging.db');
    assert.deepEqual(handoffFromMemo({ handoff: setting }), setting);
    assert.throws(() => handoffFromMemo({ handoff: { staging: 42 } }), HandoffSettingError);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/config-error';
import { checkZimCredentials, ZimUnreachableError } from '../../src/worker/check-zim-credentials';
import { startZimEmulator, type ZimEmulator } from '../../src/zim-emulator';

const APP_ID = 4242;
const SECRET = '9193cc662a4c0ec135ec71fb57194b38';
const WRONG = 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5';

describe('checkZimCredentials (against the emulator over HTTP)', () => {
  let emulator: ZimEmulator;
  before(async () => {
    emulator = await startZimEmulator({ appId: APP_ID, serverSecret: SECRET });
  });
  after(async () => {
    await emulator?.stop();
  });
  const config = (over: { appId?: number; serverSecret?: string; baseUrl?: string } = {}) => ({
    appId: APP_ID,
    serverSecret: SECRET,
    baseUrl: emulator.url,
    budgetDbPath: ':memory:',
    ...over,
  });

  it('passes with the right AppID and secret, with one read that changes nothing', async () => {
    const before = emulator.counters().requests;
    await checkZimCredentials(config());
    assert.equal(emulator.counters().requests, before + 1);
  });

  it('refuses a wrong secret with the code and the fix, never the secret', async () => {
    await assert.rejects(checkZimCredentials(config({ serverSecret: WRONG })), (err: unknown) => {
      assert.ok(err instanceof ConfigError, 'a configuration error: exit code 2');
      assert.match(err.message, /refused this worker's credentials for app 4242: code 100000005 \(SIGNATURE_ERROR\)/);
      assert.match(err.message, /ServerSecret does not match the AppID/);
      assert.ok(!err.message.includes(WRONG) && !err.message.includes(SECRET));
      return true;
    });
  });

  it('tries again when ZIM answers 502 at first, as a worker restarted during an outage would see', async () => {
    emulator.setFaults({ http5xxRate: 1 });
    const cleared = (async () => {
      while (emulator.counters().faults.http5xx === 0) await new Promise((r) => setTimeout(r, 10));
      emulator.setFaults({});
    })();
    await checkZimCredentials(config(), [300, 300, 300, 300]);
    await cleared;
    assert.ok(emulator.counters().faults.http5xx >= 1, 'the first attempt met a 502');
  });

  it('says when ZIM cannot be reached at all, after its retries', async () => {
    await assert.rejects(
      checkZimCredentials(config({ baseUrl: 'http://127.0.0.1:1' }), [10, 10]),
      (err: unknown) =>
        err instanceof ZimUnreachableError &&
        /Cannot reach ZIM at http:\/\/127\.0\.0\.1:1: .*--skip-zim-check/.test(err.message)
    );
  });
});

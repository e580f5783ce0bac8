import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadZimConfig } from '../../src/config/zim-config';

const SECRET = '9193cc662a4c0ec135ec71fb57194b38';

describe('loadZimConfig', () => {
  it('reads the app id, secret and base URL from env', () => {
    const config = loadZimConfig({
      ZIM_APP_ID: '12345',
      ZIM_SERVER_SECRET: SECRET,
      ZIM_BASE_URL: 'http://127.0.0.1:9/',
    });
    assert.equal(config.appId, 12345);
    assert.equal(config.serverSecret, SECRET);
    assert.equal(config.baseUrl, 'http://127.0.0.1:9');
  });

  it('reads the secret from a file', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'secret-')), 'secret');
    writeFileSync(file, `${SECRET}\n`);
    assert.equal(loadZimConfig({ ZIM_APP_ID: '1', ZIM_SERVER_SECRET_FILE: file }).serverSecret, SECRET);
  });

  it('names the missing or malformed setting and never echoes the secret', () => {
    assert.throws(() => loadZimConfig({ ZIM_SERVER_SECRET: SECRET }), /ZIM_APP_ID is not set/);
    assert.throws(
      () => loadZimConfig({ ZIM_APP_ID: 'abc', ZIM_SERVER_SECRET: SECRET }),
      /ZIM_APP_ID must be your ZIM AppID/
    );
    assert.throws(() => loadZimConfig({ ZIM_APP_ID: '1' }), /ZIM_SERVER_SECRET/);
    const bad = 'not-a-valid-secret-value-at-all!';
    assert.throws(
      () => loadZimConfig({ ZIM_APP_ID: '1', ZIM_SERVER_SECRET: bad }),
      (err: unknown) => err instanceof ConfigError && /32-character/.test(err.message) && !err.message.includes(bad)
    );
    assert.throws(() => loadZimConfig({ ZIM_APP_ID: '1', ZIM_SERVER_SECRET_FILE: '/nonexistent/x' }), /ENOENT/);
  });
});

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ZimClient } from '../../src/zim-client';
import { projectRoot } from '../../src/shared/project-root';

const BIN = path.join(projectRoot(), 'bin/zim-migrate.js');
const SECRET = 'cli-secret-5c2e9a1f0b7d4c3e8f6a';

describe('zim-migrate emulator', () => {
  it('starts from a secret file, prints its URL but never the secret, serves ZIM calls and stops on SIGTERM', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'zim-cli-'));
    const secretFile = path.join(dir, 'secret');
    writeFileSync(secretFile, `${SECRET}\n`);
    const child = spawn(
      process.execPath,
      [BIN, 'emulator', '--app-id', '99', '--port', '0', '--server-secret-file', secretFile, '--plan', 'free'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ZIM_SERVER_SECRET: '' },
      }
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 20_000);
        child.stdout.on('data', () => {
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+) \(AppId 99, plan free, rate limits on\)/.exec(output);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      const client = new ZimClient({ baseUrl: url, appId: 99, serverSecret: SECRET });
      try {
        assert.deepEqual((await client.userRegister({ UserInfo: [{ UserId: 'a' }] })).failures, []);
      } finally {
        await client.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.ok(!output.includes(SECRET), output);
  });

  it('refuses to start without a secret (a configuration error, exit 2) and explains where to put one', async () => {
    const run = promisify(execFile)(process.execPath, [BIN, 'emulator', '--app-id', '1'], {
      env: { ...process.env, ZIM_SERVER_SECRET: '' },
    });
    await assert.rejects(
      run,
      (e: { code: number; stderr: string }) => e.code === 2 && /ZIM_SERVER_SECRET/.test(e.stderr)
    );
  });

  it('documents its flags with examples', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'emulator', '--help']);
    for (const flag of [
      '--app-id',
      '--server-secret-file',
      '--no-rate-limits',
      '--commit-then-drop-rate',
      '--fault-seed',
      'Examples:',
    ]) {
      assert.ok(stdout.includes(flag), flag);
    }
  });
});

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyCallbackSignature } from '../../src/zim-callbacks';
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
      [
        BIN,
        'emulator',
        '--app-id',
        '99',
        '--port',
        '0',
        '--server-secret-file',
        secretFile,
        '--plan',
        'free',
        '--group-rate-limit',
        '3',
        '--no-group-edits-require-role',
      ],
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
        const config = (await (await fetch(`${url}/_emulator/config`)).json()) as {
          rateLimits: { perGroupPerSecond: Record<string, number> };
          behaviour: { groupEditsRequireRole: boolean };
        };
        assert.equal(config.behaviour.groupEditsRequireRole, false);
        assert.deepEqual(config.rateLimits.perGroupPerSecond, {
          InviteUsersIntoGroup: 3,
          SetGroupMembersNickname: 3,
          DismissGroup: 3,
          TransferGroupOwner: 3,
        });
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
      '--callback-url',
      '--import-fires-send-msg',
      '--no-group-callbacks-on-server-ops',
      '--no-edit-reuses-msg-id',
      '--no-group-edits-require-role',
      'Examples:',
    ]) {
      assert.ok(stdout.includes(flag), flag);
    }
  });

  it('posts callbacks to --callback-url, signed with the secret of --callback-secret-file, which it never prints', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'zim-cli-'));
    const secretFile = path.join(dir, 'secret');
    const callbackSecretFile = path.join(dir, 'callback-secret');
    const CALLBACK_SECRET = 'cb-secret-1a2b3c4d5e6f';
    writeFileSync(secretFile, SECRET);
    writeFileSync(callbackSecretFile, CALLBACK_SECRET);
    const received: Array<Record<string, unknown>> = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body) as Record<string, unknown>);
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/cb`;
    const child = spawn(
      process.execPath,
      [
        ...[BIN, 'emulator', '--app-id', '98', '--server-secret-file', secretFile, '--json'],
        ...['--callback-url', callbackUrl, '--callback-secret-file', callbackSecretFile],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ZIM_SERVER_SECRET: '' } }
    );
    let output = '';
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 20_000);
        child.stdout.once('data', (c: Buffer) => {
          output += c.toString();
          clearTimeout(timer);
          resolve((JSON.parse(c.toString().split('\n')[0]!) as { url: string }).url);
        });
      });
      const client = new ZimClient({ baseUrl: url, appId: 98, serverSecret: SECRET });
      try {
        await client.userRegister({ UserInfo: [{ UserId: 'a' }, { UserId: 'b' }] });
        await client.sendPeerMessage({
          FromUserId: 'a',
          ToUserId: ['b'],
          MessageType: 1,
          Priority: 1,
          MessageBody: { Message: 'hi' },
        });
      } finally {
        await client.close();
      }
      const deadline = Date.now() + 10_000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const [cb] = received;
      assert.equal(cb?.event, 'send_msg');
      const parts = { timestamp: cb.timestamp as number, nonce: cb.nonce as string, signature: cb.signature as string };
      assert.ok(verifyCallbackSignature(CALLBACK_SECRET, parts));
      assert.equal(verifyCallbackSignature(SECRET, parts), false);
    } finally {
      child.kill('SIGTERM');
      receiver.closeAllConnections();
      receiver.close();
    }
    assert.equal(await exited, 0);
    assert.ok(!output.includes(CALLBACK_SECRET) && !output.includes(SECRET), output);
  });
});

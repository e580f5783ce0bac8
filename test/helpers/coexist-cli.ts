/**
 * For tests that run coexistence as an operator does, through `zim-migrate` processes: starting one and reading
 * its first line, stopping it, and the first exchange (one message each way between ann and bob, wired through a
 * receiver) that shows a deployment mirrors both ways exactly once.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { request } from 'undici';
import { projectRoot } from '../../src/shared/project-root';
import type { ZimClient } from '../../src/zim-client';
import type { ZimEmulator } from '../../src/zim-emulator';

export const BIN = path.join(projectRoot(), 'bin', 'zim-migrate.js');

/** Starts `zim-migrate <args>`; `line` is the first capture of `firstLine` in its standard output. */
export function startCli(args: string[], env: NodeJS.ProcessEnv, firstLine: RegExp, cwd?: string) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env,
    ...(cwd ? { cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const line = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = firstLine.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${err}`)));
  });
  return { child, line, stderr: () => err, output: () => out + err };
}

/** SIGTERM, and its exit code once it exited (at once when it already had). */
export const stopChild = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });

/** POSTs JSON and fails the test unless it is answered 200. */
export async function postOk(url: string, body: unknown): Promise<void> {
  const res = await request(url, { method: 'POST', body: JSON.stringify(body) });
  const text = await res.body.text();
  assert.equal(res.statusCode, 200, `${url}: ${text}`);
}

/**
 * Registers ann and bob on both sides, points the emulator's callbacks and the legacy server's webhook at the
 * receiver, sends `texts[0]` from App 1.0 (legacy) and `texts[1]` from App 2.0 (ZIM's SDK), and asserts that each
 * side ends with both exactly once, also after the echoes had time to come back. Returns how it read both sides.
 */
export async function exchangeOneEachWay(o: {
  zim: ZimClient;
  emulator: ZimEmulator;
  legacyUrl: string;
  receiverUrl: string;
  texts: [string, string];
  why: () => string;
}): Promise<() => Promise<{ zim: (string | undefined)[]; legacy: string[] }>> {
  await o.zim.userRegister({ UserInfo: [{ UserId: 'ann' }, { UserId: 'bob' }] });
  await postOk(`${o.legacyUrl}/_test/users`, { users: ['ann', 'bob'] });
  o.emulator.callbacks.configure({ url: `${o.receiverUrl}/zim/callback`, retryDelaysMs: [200, 400, 800, 1600, 3200] });
  await postOk(`${o.legacyUrl}/_test/webhook`, { url: `${o.receiverUrl}/legacy/events` });
  await postOk(`${o.legacyUrl}/_test/app1/send`, { from: 'ann', to: 'bob', body: o.texts[0] });
  await postOk(`${o.emulator.url}/_emulator/sdk/send`, { from: 'bob', to: 'ann', body: o.texts[1] });

  const bodies = async () => {
    const z = await o.zim.queryPeerMsg({ FromUserId: 'ann', ToUserId: 'bob', Limit: 10 });
    const res = await request(`${o.legacyUrl}/_test/state`);
    const state = (await res.body.json()) as { conversations: Array<{ messages: Array<{ body: string }> }> };
    return {
      zim: z.messages.map((m) => m.msgBody).sort(),
      legacy: state.conversations.flatMap((c) => c.messages.map((m) => m.body)).sort(),
    };
  };
  const want = [...o.texts].sort();
  const until = Date.now() + 60_000;
  let seen = await bodies();
  while ((seen.zim.length < 2 || seen.legacy.length < 2) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    seen = await bodies();
  }
  // Echoes had time to come back: still exactly one of each on each side.
  await new Promise((r) => setTimeout(r, 2_000));
  assert.deepEqual(await bodies(), { zim: want, legacy: want }, o.why());
  return bodies;
}

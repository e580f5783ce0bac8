/**
 * Three separate OS processes share one Action's budget through the call schedule in PostgreSQL. A recorder on
 * loopback (standing in for ZIM) timestamps every call on arrival: no sliding 1-s window holds more than the budget,
 * and the budget is used (≥ 97%) while there is work. Two of the processes have their wall clocks off by seconds.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { PgCallScheduler } from '../../src/rate-limit/pg-call-scheduler';
import { maxInWindow } from '../helpers/call-scheduler-cases';
import { useLocalPostgres } from '../helpers/local-postgres';

const CHILD = path.join(__dirname, '..', 'helpers', 'pg-scheduler-child.ts');

export interface RecordedCall {
  pid: number;
  /** When the process sent it (epoch ms, real clock). */
  sentAt: number;
  /** When the recorder received it (epoch ms, the same machine's clock). */
  arrivedAt: number;
}

const callSchema = z.object({ pid: z.number(), sentAt: z.number() });

/** Starts a loopback recorder, runs `children` together to their end, returns every call they made. */
export async function recordCalls(
  children: { env: NodeJS.ProcessEnv; args: (url: string) => string[] }[]
): Promise<RecordedCall[]> {
  const calls: RecordedCall[] = [];
  const server = createServer((req, res) => {
    if (req.method !== 'POST') return void res.end('warm');
    const arrivedAt = performance.timeOrigin + performance.now();
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push({ ...callSchema.parse(JSON.parse(body)), arrivedAt });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    const started = children.map((c) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...c.args(url)], {
        env: { ...process.env, ...c.env },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000); // bounded, whatever happens
      const ready = new Promise<void>((resolve) => child.once('message', () => resolve()));
      const exited = new Promise<void>((resolve, reject) =>
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          if (code === 0) resolve();
          else reject(new Error(`scheduler child exited with ${code ?? signal}`));
        })
      );
      return { child, ready: Promise.race([ready, exited]), exited };
    });
    await Promise.all(started.map((s) => s.ready));
    for (const s of started) s.child.send('go');
    await Promise.all(started.map((s) => s.exited));
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  return calls;
}

describe('three processes share one budget through PostgreSQL', () => {
  const pg = useLocalPostgres();

  it('never more than the budget in any 1-s window, at least 97% of it used, under clock skew', async () => {
    const appId = 4242;
    const rate = 20;
    const perProcess = 80;
    const setup = await PgCallScheduler.open(pg.open(), { appId });
    await setup.setRate('ImportPeerMsg', rate);
    const calls = await recordCalls(
      [0, 7_000, -3_000].map((skew) => ({
        env: { ...pg.env(), CLOCK_SKEW_MS: String(skew) },
        args: (url) => [url, String(appId), 'ImportPeerMsg', String(perProcess), '6'],
      }))
    );
    assert.equal(calls.length, 3 * perProcess);
    assert.equal(new Set(calls.map((c) => c.pid)).size, 3, 'every process made calls');
    const sent = calls.map((c) => c.sentAt).sort((a, b) => a - b);
    const most = maxInWindow(sent, 1000);
    const span = (sent.at(-1)! - sent[0]!) / 1000;
    const use = (sent.length - 1) / span / rate;
    // Arrivals add this machine's scheduling jitter after the send (what adaptive headroom answers at ZIM).
    const arrivals = maxInWindow(
      calls.map((c) => c.arrivedAt),
      1000
    );
    console.log(
      `3 processes: ${sent.length} calls in ${span.toFixed(2)} s, ${(use * 100).toFixed(1)}% of ${rate}/s; ` +
        `most in a 1-s window: ${most} sent, ${arrivals} arrived`
    );
    assert.ok(most <= rate, `at most ${rate} calls sent in any 1-s window, got ${most}`);
    assert.ok(use >= 0.97, `budget use ${(use * 100).toFixed(1)}% (≥ 97%)`);
    await new Promise((r) => setTimeout(r, 1_100 - (Date.now() % 1000))); // counts cover whole seconds
    assert.equal((await setup.sentInWindow(60_000)).ImportPeerMsg, calls.length, 'the schedule counted every send');
  });
});

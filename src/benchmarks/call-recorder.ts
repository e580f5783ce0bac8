/**
 * A loopback HTTP recorder standing in for ZIM while separate processes share a call schedule: it runs the
 * processes (src/benchmarks/call-schedule-child.ts) together to their end and returns every call, with when the
 * schedule recorded it, when it was sent and when it arrived. Bounded: a process still running after two minutes is killed.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

const CHILD = path.join(__dirname, 'call-schedule-child.ts');

export interface RecordedCall {
  pid: number;
  /** When the schedule recorded it as sent (epoch ms, the schedule's clock: the database's for PostgreSQL). */
  recordedAt: number;
  /** When the process sent it (epoch ms, real clock). */
  sentAt: number;
  /** When the recorder received it (epoch ms, the same machine's clock). */
  arrivedAt: number;
}

export interface ChildSpec {
  env?: NodeJS.ProcessEnv;
  /** The child's arguments after the recorder's URL. */
  args: string[];
}

const callSchema = z.object({ pid: z.number(), recordedAt: z.number(), sentAt: z.number() });

/** The most calls in any window of `ms` (a window ending at a call; a call `ms` earlier is outside it). */
export function maxInWindow(times: readonly number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j]! <= sorted[i]! - ms) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** Share of `rate` the calls used, from first to last send. */
export function budgetUse(times: readonly number[], rate: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  return (sorted.length - 1) / ((sorted.at(-1)! - sorted[0]!) / 1000) / rate;
}

export async function recordCalls(children: ChildSpec[]): Promise<RecordedCall[]> {
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
  const started = children.map((c) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, url, ...c.args], {
      env: { ...process.env, ...c.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const ready = new Promise<void>((resolve) => child.once('message', () => resolve()));
    const exited = new Promise<void>((resolve, reject) =>
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`call schedule child exited with ${code ?? signal}`));
      })
    );
    return { child, ready: Promise.race([ready, exited]), exited };
  });
  try {
    await Promise.all(started.map((s) => s.ready));
    for (const s of started) s.child.send('go');
    await Promise.all(started.map((s) => s.exited));
  } finally {
    for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await Promise.allSettled(started.map((s) => s.exited));
    await new Promise<void>((r) => server.close(() => r()));
  }
  return calls;
}

/**
 * The ZIM emulator as a child process (`zim-migrate emulator`), as ZIM is a server apart from the workers. Run in
 * the worker's own process, the emulator saw requests when the worker's busy event loop let it, several at once,
 * and its one-second windows refused calls that had left evenly spaced (0.34% of ImportPeerMsg at 20/s in a loaded
 * rehearsal, against 0.05% with the emulator apart: docs/benchmarks.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { PlanLimits } from '../zim-client/limits';
import type { CountersSnapshot } from './counters';

const BIN = path.join(__dirname, '../../bin/zim-migrate.js');
const STOP_GRACE_MS = 5_000;

export interface EmulatorProcessOptions {
  appId: number;
  /** The ServerSecret, in a file only the child reads (never on its command line). */
  serverSecretFile: string;
  /** 0 for a free port. */
  port: number;
  plan: string;
  limits: Partial<PlanLimits>;
  /** Per-Action (app-wide) calls per second; per-group limits stay ZIM's 1/s. */
  perSecond: Readonly<Record<string, number>>;
  /** Where the emulator posts ZIM's callbacks (none: off). */
  callbackUrl?: string;
  /** The callback secret, in a file only the child reads; the ServerSecret when absent. */
  callbackSecretFile?: string;
  /** The emulator's own output goes here. */
  logFile: string;
  /** Aborting kills the child (a rehearsal that stops while it starts). */
  signal?: AbortSignal;
}

export interface EmulatorProcess {
  url: string;
  pid: number;
  /** What the emulator has seen, from its introspection API. */
  counters(): Promise<Pick<CountersSnapshot, 'calls' | 'refusalsByAction'>>;
  /** SIGTERM, then SIGKILL after 5 s; safe to call twice. */
  stop(): Promise<void>;
}

const LIMIT_FLAGS: Readonly<Partial<Record<keyof PlanLimits, string>>> = {
  retentionDays: '--retention-days',
  maxGroupMembers: '--max-group-members',
  maxFriendsPerUser: '--max-friends',
  maxBlocksPerUser: '--max-blocks',
  maxMessageBytes: '--max-message-bytes',
  maxExtraBytes: '--max-extra-bytes',
};

const Listening = z.object({ url: z.string().url() });
const Counters = z.object({
  calls: z.record(z.string(), z.number()),
  refusalsByAction: z.record(z.string(), z.record(z.string(), z.number())),
});

export function emulatorArgs(o: Omit<EmulatorProcessOptions, 'logFile' | 'signal'>): string[] {
  return [
    ...['--app-id', String(o.appId), '--server-secret-file', o.serverSecretFile, '--port', String(o.port)],
    ...['--plan', o.plan, '--json'],
    ...Object.entries(o.limits).flatMap(([key, value]) => {
      const flag = LIMIT_FLAGS[key as keyof PlanLimits];
      return flag && value !== undefined ? [flag, String(value)] : [];
    }),
    ...Object.entries(o.perSecond).flatMap(([action, rate]) => ['--rate-limit-for', `${action}=${rate}`]),
    ...(o.callbackUrl ? ['--callback-url', o.callbackUrl] : []),
    ...(o.callbackSecretFile ? ['--callback-secret-file', o.callbackSecretFile] : []),
  ];
}

export async function startEmulatorProcess(o: EmulatorProcessOptions): Promise<EmulatorProcess> {
  const log = openSync(o.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [BIN, 'emulator', ...emulatorArgs(o)], { stdio: ['ignore', 'pipe', log] });
  } finally {
    closeSync(log);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // It must not outlive us, whatever ends this process (an error, process.exit); SIGKILL of us excepted.
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
  };
  const onAbort = () => void stop();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (line) => {
        try {
          resolve(Listening.parse(JSON.parse(line)).url);
        } catch (err) {
          reject(new Error(`the ZIM emulator printed "${line.slice(0, 200)}" instead of its URL`, { cause: err }));
        }
      });
      child.once('exit', (code, signal) =>
        reject(new Error(`the ZIM emulator exited at start (${signal ?? `code ${code}`}); see ${o.logFile}`))
      );
    });
    return {
      url,
      pid: child.pid!,
      counters: async () => Counters.parse(await (await fetch(`${url}/_emulator/counters`)).json()),
      stop: async () => {
        o.signal?.removeEventListener('abort', onAbort);
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

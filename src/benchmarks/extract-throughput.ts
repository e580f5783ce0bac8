/**
 * `npm run bench:extract -- --source sendbird [--messages 100000] [--rate-limit 100] [--concurrency 8]`: extracts a
 * seeded Sendbird workspace through the emulator's Platform API (its own process, loopback only, rate limited) with
 * the real extract workflow on a Temporal dev server, and prints messages/s, requests/s against the rate limit (the
 * expected bound: Sendbird caps GETs per app), and the peak RSS of the extracting process (the worker). Self-stopping.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from '@temporalio/worker';
import { z } from 'zod';
import { createExtractActivities } from '../../activities/extract';
import { startDevServer } from '../dev-server/start-dev-server';
import { projectRoot } from '../shared/project-root';
import { DEFAULT_MAPPING } from '../sources/sendbird/mapping';
import type { SendbirdExtractConfig } from '../sources/sendbird/units';
import { installWorkerLogger } from '../worker/worker-logger';
import { workflowActivationOptions } from '../worker/workflow-activation-timeout';
import { workflowBundle } from '../worker/workflow-bundle';
import type { extractWorkflow } from '../../workflows/extract';

const flags = z.object({
  source: z.literal('sendbird', { error: 'only --source sendbird exists so far' }),
  messages: z.coerce.number().int().positive().max(5_000_000),
  users: z.coerce.number().int().positive().optional(),
  rateLimit: z.coerce.number().positive(),
  concurrency: z.coerce.number().int().positive(),
  seed: z.coerce.number().int(),
});

const TOKEN = 'bench-token-0123456789';

async function main() {
  const { values } = parseArgs({
    options: {
      source: { type: 'string', default: 'sendbird' },
      messages: { type: 'string', default: '100000' },
      users: { type: 'string' },
      'rate-limit': { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '8' },
      seed: { type: 'string', default: '1' },
    },
  });
  const f = flags.parse({ ...values, rateLimit: values['rate-limit'] });
  const users = f.users ?? Math.max(100, Math.round(f.messages / 50));
  const emulator = spawn(
    process.execPath,
    [
      path.join(projectRoot(), 'bin', 'zim-migrate.js'),
      'sendbird-emulator',
      '--users',
      String(users),
      '--messages',
      String(f.messages),
      '--rate-limit',
      String(f.rateLimit),
      '--seed',
      String(f.seed),
    ],
    { env: { ...process.env, SENDBIRD_API_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'inherit'] }
  );
  const cleanup: (() => Promise<void> | void)[] = [() => void emulator.kill('SIGTERM')];
  const guard = setTimeout(() => {
    console.error('bench:extract: gave up after 30 minutes');
    process.exit(1);
  }, 30 * 60_000);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      emulator.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      emulator.once('exit', (code) => reject(new Error(`the emulator exited (${code})`)));
    });
    installWorkerLogger('ERROR');
    const server = await startDevServer();
    cleanup.push(() => server.stop());
    // A little under the limit: the pacer spaces evenly, network jitter would otherwise meet 429s.
    const requestsPerSecond = f.rateLimit * 0.97;
    const worker = await Worker.create({
      connection: server.env.nativeConnection,
      taskQueue: 'bench-extract',
      workflowBundle: await workflowBundle(),
      activities: createExtractActivities({ apiToken: TOKEN, requestsPerSecond }),
      ...workflowActivationOptions(),
    });
    const running = worker.run();
    cleanup.push(async () => {
      worker.shutdown();
      await running;
    });
    const out = mkdtempSync(path.join(tmpdir(), 'bench-extract-'));
    cleanup.push(() => rmSync(out, { recursive: true, force: true }));
    const config: SendbirdExtractConfig = {
      outDir: out,
      route: { kind: 'api', baseUrl: url },
      mapping: DEFAULT_MAPPING,
      blocks: true,
    };
    let peak = process.memoryUsage.rss();
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 250);
    const t0 = Date.now();
    const summary = await server.env.client.workflow.execute<typeof extractWorkflow>('extractWorkflow', {
      taskQueue: 'bench-extract',
      workflowId: 'bench-extract',
      args: [{ config, concurrency: f.concurrency }],
    });
    const seconds = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    const stats = z
      .object({ requests: z.number(), tooMany: z.number() })
      .parse(await (await fetch(`${url}/_emulator/stats`)).json());
    const messages = summary.peerMessages + summary.groupMessages;
    const reqRate = stats.requests / seconds;
    console.log(
      `bench:extract sendbird: ${messages.toLocaleString('en')} messages (${summary.users} users, ${summary.groups} groups) in ${seconds.toFixed(1)} s = ` +
        `${Math.round(messages / seconds).toLocaleString('en')} msg/s; ${stats.requests.toLocaleString('en')} requests = ${reqRate.toFixed(1)} req/s, ` +
        `${Math.round((100 * reqRate) / f.rateLimit)}% of the emulator's ${f.rateLimit} req/s limit (${stats.tooMany} answered 429); ` +
        `peak RSS of the extracting process ${Math.round(peak / 2 ** 20)} MB`
    );
  } finally {
    clearTimeout(guard);
    for (const c of cleanup.reverse()) await c();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

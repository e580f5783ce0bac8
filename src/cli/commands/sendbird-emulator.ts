/** `zim-migrate sendbird-emulator`: a local Sendbird Platform API over a seeded workspace, for rehearsals and benchmarks. */
import { mkdirSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { writeExportDir } from '../../sendbird-emulator/export-files';
import { startSendbirdEmulator } from '../../sendbird-emulator/server';
import { generateWorkspace } from '../../sendbird-emulator/workspace';
import { readSendbirdApiToken } from '../../sources/sendbird/api-token';
import { UsageError } from '../../shared/usage-error';
import { parseFlags, untilStopSignal } from '../flags';

const flags = z.object({
  port: z.coerce.number().int().min(0).max(65535),
  seed: z.coerce.number().int(),
  users: z.coerce.number().int().min(2).max(1_000_000),
  messages: z.coerce.number().int().min(0).max(50_000_000),
  rateLimit: z.coerce.number().min(0),
  fileUrlTtl: z.coerce.number().int().positive(),
  exportJobMs: z.coerce.number().int().min(0),
  failExportJobs: z
    .string()
    .regex(/^\d+(,\d+)*$/, { error: 'a comma-separated list of job numbers, e.g. 2,5' })
    .optional(),
  historyDays: z.coerce.number().positive(),
  writeExport: z.string().optional(),
  apiTokenFile: z.string().optional(),
});

export function registerSendbirdEmulatorCommand(program: Command): void {
  program
    .command('sendbird-emulator')
    .description('Serve a seeded Sendbird workspace over a local Platform API (loopback only), for extract rehearsals')
    .option('--port <n>', 'port on 127.0.0.1 (0: any free one)', '0')
    .option('--seed <n>', 'the same seed and sizes give the same workspace', '1')
    .option('--users <n>', 'users', '500')
    .option('--messages <n>', 'messages over all channels', '20000')
    .option('--rate-limit <n>', 'requests per second before 429 with Retry-After (0: none)', '100')
    .option('--file-url-ttl <ms>', 'how long an export file URL stays valid', '60000')
    .option('--export-job-ms <ms>', 'how long a data export job takes (scheduled, then exporting, then done)', '1000')
    .option('--fail-export-jobs <n,...>', 'seeded fault: the export jobs created n-th (1-based) end "failed"')
    .option('--history-days <n>', 'history ends now and starts this many days ago (day-rounded)', '20')
    .option(
      '--write-export <dir>',
      'also write the workspace as a Sendbird data export (JSON files) into this directory'
    )
    .option('--api-token-file <file>', 'the token clients must send (else env SENDBIRD_API_TOKEN)')
    .addHelpText(
      'after',
      `
The workspace has distinct DMs, groups of power-law sizes, supergroups over 100 members (listed without members),
frozen channels, operators, deactivated users (hidden unless active_mode=all), ids over 32 bytes or with
characters ZIM refuses, admin, file and removed messages, equal timestamps, app data, blocks and open channels.
Data export jobs (POST /v3/export/{users,channels,messages}) hold what was created in their window, go scheduled ->
exporting -> done | failed | no data, and hand out signed zip links that expire after --file-url-ttl.

Examples:
  $ SENDBIRD_API_TOKEN=dev-token-123 zim-migrate sendbird-emulator --port 8090 --users 2000 --messages 100000
  $ SENDBIRD_API_TOKEN=dev-token-123 zim-migrate extract sendbird --api http://127.0.0.1:8090 --out ./export --embedded-worker
  $ SENDBIRD_API_TOKEN=dev-token-123 zim-migrate extract sendbird --api http://127.0.0.1:8090 --export-jobs \
      --from 2026-01-01 --out ./export-jobs --embedded-worker

Exit codes: 0 stopped by Ctrl-C or SIGTERM, 2 bad usage.`
    )
    .action(async (raw: Record<string, unknown>) => {
      const f = parseFlags(flags, raw);
      const apiToken = readSendbirdApiToken(f.apiTokenFile);
      if (!apiToken)
        throw new UsageError('set SENDBIRD_API_TOKEN or pass --api-token-file: the token clients must send');
      const day = 86_400_000;
      const startMs = Math.floor(Date.now() / day) * day - Math.round(f.historyDays * day);
      const workspace = generateWorkspace({ seed: f.seed, users: f.users, messages: f.messages, startMs });
      if (f.writeExport) {
        mkdirSync(f.writeExport, { recursive: true });
        writeExportDir(workspace, f.writeExport);
      }
      const emulator = await startSendbirdEmulator({
        workspace,
        apiToken,
        port: f.port,
        rateLimit: f.rateLimit,
        fileUrlTtlMs: f.fileUrlTtl,
        exportJobMs: f.exportJobMs,
        ...(f.failExportJobs ? { faults: { failExportJobs: f.failExportJobs.split(',').map(Number) } } : {}),
      });
      console.log(
        `Sendbird emulator at ${emulator.url}: ${workspace.users.length} users, ${workspace.channels.length} group channels, ` +
          `${workspace.totalMessages} messages; rate limit ${f.rateLimit || 'none'}/s`
      );
      await untilStopSignal();
      await emulator.close();
    });
}

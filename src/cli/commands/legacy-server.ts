/** `zim-migrate legacy-server`: the reference legacy chat server (docs/coexistence.md §1), for rehearsals and tests. */
import type { Command } from 'commander';
import { z } from 'zod';
import { requireSecret } from '../../coexist/secrets';
import { startLegacyServer } from '../../legacy-server/server';
import { parseFlags, untilStopSignal } from '../flags';

const flags = z.object({
  port: z.coerce.number().int().min(0).max(65535),
  webhookUrl: z.string().url().optional(),
  echo: z.enum(['both', 'origin-tag', 'client-msg-id', 'none']),
  duplicateRate: z.coerce.number().min(0).max(1),
  reorderRate: z.coerce.number().min(0).max(1),
  reorderDelayMs: z.coerce.number().int().min(0).max(60_000),
  lossRate: z.coerce.number().min(0).max(1),
  seed: z.coerce.number().int(),
  apiTokenFile: z.string().optional(),
  webhookSecretFile: z.string().optional(),
});

export function registerLegacyServerCommand(program: Command): void {
  program
    .command('legacy-server')
    .description(
      'Run the reference legacy chat server (loopback only): the legacy side of coexistence rehearsals, and an ' +
        'example of the contract in docs/coexistence.md'
    )
    .option('--port <n>', 'port on 127.0.0.1 (0: any free one)', '0')
    .option('--webhook-url <url>', "where routing events are posted (the receiver's /legacy/events)")
    .option(
      '--echo <mode>',
      'echo identification returned in routing events: both, origin-tag, client-msg-id, none (non-conforming)',
      'both'
    )
    .option('--duplicate-rate <p>', 'share of routing events delivered twice (seeded)', '0')
    .option('--reorder-rate <p>', 'share of routing events held back so later ones overtake them (seeded)', '0')
    .option('--reorder-delay-ms <n>', 'how long a reordered event is held back', '200')
    .option('--loss-rate <p>', 'share of routing events lost outright, never attempted (seeded; for audit tests)', '0')
    .option('--seed <n>', 'seed of the duplicates, the reordering and the loss', '1')
    .option('--api-token-file <file>', 'the token /v1 callers must send (else LEGACY_API_TOKEN)')
    .option('--webhook-secret-file <file>', 'the routing webhook HMAC secret (else LEGACY_WEBHOOK_SECRET)')
    .addHelpText(
      'after',
      `
Users, one-to-one and group conversations with per-conversation sequences, and groups live in memory. Every
change, including writes through /v1, is posted to --webhook-url signed with HMAC-SHA256 over
"<timestamp>.<body>", retried after 1, 2, 4, 8 and 16 s on a non-2xx answer, then dropped.

  /v1/messages, /v1/conversations/{key}/messages, /v1/groups..., /v1/capabilities   the contract (Bearer token)
  POST /_test/users {"users":[...]}                                                 add users
  POST /_test/app1/send {"from","to"|"groupId","body"}                             act as an App 1.0 user
  POST /_test/app1/createGroup {"operator","groupId","name","members"}
  GET  /_test/state, GET /_test/deliveries, POST /_test/webhook
       {"url","duplicateRate","reorderRate","reorderDelayMs","lossRate","seed","retryDelaysMs"}

Examples:
  $ LEGACY_API_TOKEN=dev-token LEGACY_WEBHOOK_SECRET=dev-secret \\
      zim-migrate legacy-server --port 8070 --webhook-url http://127.0.0.1:8080/legacy/events
  $ curl -X POST localhost:8070/_test/users -d '{"users":["alice","bob"]}'
  $ curl -X POST localhost:8070/_test/app1/send -d '{"from":"alice","to":"bob","body":"hi"}'

Exit codes: 0 stopped by Ctrl-C or SIGTERM, 2 bad usage (a flag, or a secret not set).`
    )
    .action(async (raw: Record<string, unknown>) => {
      const f = parseFlags(flags, raw);
      const server = await startLegacyServer({
        port: f.port,
        apiToken: requireSecret('LEGACY_API_TOKEN', f.apiTokenFile),
        webhookSecret: requireSecret('LEGACY_WEBHOOK_SECRET', f.webhookSecretFile),
        webhookUrl: f.webhookUrl,
        echo: {
          originTag: f.echo === 'both' || f.echo === 'origin-tag',
          clientMsgId: f.echo === 'both' || f.echo === 'client-msg-id',
        },
        duplicateRate: f.duplicateRate,
        reorderRate: f.reorderRate,
        reorderDelayMs: f.reorderDelayMs,
        lossRate: f.lossRate,
        seed: f.seed,
      });
      console.log(`legacy server at ${server.url}; routing events to ${f.webhookUrl ?? '(none yet)'}`);
      await untilStopSignal();
      await server.close();
    });
}

import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from '../../shared/usage-error';
import { ZIM_ACTION_NAMES, isZimAction, type ZimAction } from '../../zim-client/actions';
import { ZIM_GROUP_RATE_LIMITS } from '../../zim-client/limits';
import { startZimEmulator, type EmulatorOptions } from '../../zim-emulator';
import { untilStopSignal } from '../flags';

interface EmulatorFlags {
  port: number;
  host: string;
  appId: number;
  serverSecret?: string;
  serverSecretFile?: string;
  plan: 'free' | 'pro' | 'enterprise';
  retentionDays?: number;
  maxMessageBytes?: number;
  maxMultiItemMessageBytes?: number;
  maxExtraBytes?: number;
  maxGroupMembers?: number;
  maxFriends?: number;
  maxBlocks?: number;
  maxFriendsPerCall?: number;
  rateLimits: boolean;
  rateLimit?: number;
  rateLimitFor: Partial<Record<ZimAction, number>>;
  groupRateLimit?: number;
  ordering: 'strict' | 'lenient';
  friendship: 'mutual' | 'one-way';
  groupEditsRequireRole: boolean;
  importRaisesUnread: boolean;
  spaceInIds: boolean;
  groupImportRequiresMembership: boolean;
  faultSeed: number;
  latencyMs: number;
  latencyJitterMs: number;
  latencySpikeRate: number;
  latencySpikeMs: number;
  http5xxRate: number;
  resetRate: number;
  serverBusyRate: number;
  tooFrequentRate: number;
  tooFrequentLength: number;
  commitThenDropRate: number;
  faultActions?: ZimAction[];
  callbackUrl?: string;
  callbackSecretFile?: string;
  callbackRetryDelays?: number[];
  callbackTimeoutMs: number;
  callbackFaultSeed: number;
  callbackDuplicateRate: number;
  callbackReorderRate: number;
  callbackReorderDelayMs: number;
  callbackLossRate: number;
  importFiresSendMsg: boolean;
  groupCallbacksOnServerOps: boolean;
  editReusesMsgId: boolean;
  json?: boolean;
}

const integer = (value: string): number => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a non-negative integer');
  return Number(value);
};
const rate = (value: string): number => {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a probability between 0 and 1');
  return n;
};
const actions = (value: string): ZimAction[] =>
  value.split(',').map((a) => {
    if (!isZimAction(a)) throw new InvalidArgumentError(`unknown Action ${a}`);
    return a;
  });
const actionLimit = (value: string, previous: Partial<Record<ZimAction, number>>) => {
  const [action, limit] = value.split('=');
  if (!action || !isZimAction(action) || !limit)
    throw new InvalidArgumentError('expected Action=N, e.g. ImportPeerMsg=50');
  return { ...previous, [action]: integer(limit) };
};

const delays = (value: string): number[] => (value === '' ? [] : value.split(',').map((d) => integer(d.trim())));

/**
 * The callback secret from a file or ZIM_CALLBACK_SECRET; undefined means the ServerSecret (whether ZIM's two secrets
 * are the same is UNCONFIRMED, coexistence.md §3.2). Never printed.
 */
function callbackSecret(flags: EmulatorFlags): string | undefined {
  if (flags.callbackSecretFile) return readFileSync(flags.callbackSecretFile, 'utf8').trim();
  return process.env.ZIM_CALLBACK_SECRET || undefined;
}

/** The ServerSecret from the flag, a file, or ZIM_SERVER_SECRET (in that order); it is never printed. */
function serverSecret(flags: EmulatorFlags): string {
  if (flags.serverSecret) return flags.serverSecret;
  if (flags.serverSecretFile) return readFileSync(flags.serverSecretFile, 'utf8').trim();
  const fromEnv = process.env.ZIM_SERVER_SECRET;
  if (fromEnv) return fromEnv;
  throw new UsageError('no ServerSecret: pass --server-secret-file FILE, set ZIM_SERVER_SECRET, or --server-secret S');
}

function emulatorOptions(flags: EmulatorFlags): EmulatorOptions {
  const perSecond: Partial<Record<ZimAction, number>> = {};
  if (flags.rateLimit !== undefined) for (const a of ZIM_ACTION_NAMES) perSecond[a] = flags.rateLimit;
  Object.assign(perSecond, flags.rateLimitFor);
  const limits = Object.fromEntries(
    Object.entries({
      retentionDays: flags.retentionDays,
      maxMessageBytes: flags.maxMessageBytes,
      maxMultiItemMessageBytes: flags.maxMultiItemMessageBytes,
      maxExtraBytes: flags.maxExtraBytes,
      maxGroupMembers: flags.maxGroupMembers,
      maxFriendsPerUser: flags.maxFriends,
      maxBlocksPerUser: flags.maxBlocks,
      maxFriendsPerCall: flags.maxFriendsPerCall,
    }).filter(([, v]) => v !== undefined)
  );
  return {
    appId: flags.appId,
    serverSecret: serverSecret(flags),
    host: flags.host,
    port: flags.port,
    plan: flags.plan,
    limits,
    rateLimits: {
      enabled: flags.rateLimits,
      perSecond,
      perGroupPerSecond:
        flags.groupRateLimit === undefined
          ? {}
          : Object.fromEntries(Object.keys(ZIM_GROUP_RATE_LIMITS).map((a) => [a, flags.groupRateLimit])),
    },
    behaviour: {
      ordering: flags.ordering,
      friendship: flags.friendship,
      importRaisesUnread: flags.importRaisesUnread,
      allowSpaceInIds: flags.spaceInIds,
      groupImportRequiresMembership: flags.groupImportRequiresMembership,
      groupEditsRequireRole: flags.groupEditsRequireRole,
    },
    faults: {
      seed: flags.faultSeed,
      ...(flags.faultActions ? { actions: flags.faultActions } : {}),
      latencyMs: flags.latencyMs,
      latencyJitterMs: flags.latencyJitterMs,
      ...(flags.latencySpikeRate > 0
        ? { latencySpike: { rate: flags.latencySpikeRate, ms: flags.latencySpikeMs } }
        : {}),
      http5xxRate: flags.http5xxRate,
      resetRate: flags.resetRate,
      serverBusyRate: flags.serverBusyRate,
      ...(flags.tooFrequentRate > 0
        ? { tooFrequentBurst: { startRate: flags.tooFrequentRate, length: flags.tooFrequentLength } }
        : {}),
      commitThenDropRate: flags.commitThenDropRate,
    },
    callbacks: {
      ...(flags.callbackUrl ? { url: flags.callbackUrl } : {}),
      ...(callbackSecret(flags) ? { secret: callbackSecret(flags) } : {}),
      ...(flags.callbackRetryDelays ? { retryDelaysMs: flags.callbackRetryDelays } : {}),
      attemptTimeoutMs: flags.callbackTimeoutMs,
      switches: {
        importFiresSendMsg: flags.importFiresSendMsg,
        groupCallbacksOnServerOps: flags.groupCallbacksOnServerOps,
        editReusesMsgId: flags.editReusesMsgId,
      },
      faults: {
        seed: flags.callbackFaultSeed,
        duplicateRate: flags.callbackDuplicateRate,
        reorderRate: flags.callbackReorderRate,
        reorderDelayMs: flags.callbackReorderDelayMs,
        lossRate: flags.callbackLossRate,
      },
    },
  };
}

export function registerEmulatorCommand(program: Command): void {
  program
    .command('emulator')
    .description("Run a local ZIM server API emulator (ZIM's wire protocol, limits, codes and faults) for rehearsals")
    .requiredOption('--app-id <id>', 'AppId that callers must sign with', integer)
    .option('--port <n>', 'TCP port (0 = any free port)', integer, 0)
    .option('--host <address>', 'address to listen on (the introspection API has no authentication)', '127.0.0.1')
    .option('--server-secret <secret>', 'ServerSecret (visible in `ps`: prefer the file or ZIM_SERVER_SECRET)')
    .option('--server-secret-file <file>', 'read the ServerSecret from this file')
    .addOption(
      new Option('--plan <plan>', 'ZIM plan whose limits apply').choices(['free', 'pro', 'enterprise']).default('pro')
    )
    .option('--retention-days <n>', 'history retention (plan: 7 / 30 / 90)', integer)
    .option('--max-message-bytes <n>', 'MessageBody.Message size (2048; up to 32768)', integer)
    .option('--max-multi-item-message-bytes <n>', 'multi-item message size (5120; up to 32768)', integer)
    .option('--max-extra-bytes <n>', 'ModifyUserInfo Extra size (2048; up to 32768)', integer)
    .option('--max-group-members <n>', 'members per group (plan: 20 / 200 / 2000)', integer)
    .option('--max-friends <n>', 'friends per user (plan: 20 / 3000 / 3000)', integer)
    .option('--max-blocks <n>', 'blocked users per user (1000)', integer)
    .option('--max-friends-per-call <n>', 'AddFriends batch size (20; up to 50)', integer)
    .option('--no-rate-limits', 'turn every rate limit off (benchmarks, bulk seeding)')
    .option('--rate-limit <n>', "every Action's per-app calls per second (ZIM: 20)", integer)
    .option('--rate-limit-for <Action=n>', 'one Action’s per-app calls per second (repeatable)', actionLimit, {})
    .option(
      '--group-rate-limit <n>',
      'calls per second per group of InviteUsersIntoGroup, SetGroupMembersNickname, DismissGroup and TransferGroupOwner (ZIM: 1)',
      integer
    )
    .addOption(
      new Option('--ordering <mode>', 'strict refuses imports older than the conversation’s newest; lenient sorts')
        .choices(['strict', 'lenient'])
        .default('strict')
    )
    .addOption(
      new Option('--friendship <mode>', 'whether AddFriends A→B also lists A in B’s friends')
        .choices(['mutual', 'one-way'])
        .default('mutual')
    )
    .option('--import-raises-unread', 'imported messages count as unread for their owner', false)
    .option('--no-space-in-ids', 'refuse spaces in user and group ids')
    .option('--group-import-requires-membership', 'ImportGroupMsg refuses senders who are not members', false)
    .option(
      '--no-group-edits-require-role',
      'let any registered user update group data and attributes or transfer ownership (default: owner or admin; owner)'
    )
    .option('--fault-seed <n>', 'seed of the fault generator (replay a failing run with the same seed)', integer, 1)
    .option('--latency-ms <n>', 'added latency per call', integer, 0)
    .option('--latency-jitter-ms <n>', 'plus a uniform random 0..n ms', integer, 0)
    .option('--latency-spike-rate <p>', 'share of calls delayed by a latency spike', rate, 0)
    .option('--latency-spike-ms <n>', 'length of a latency spike', integer, 2_000)
    .option('--http5xx-rate <p>', 'share of calls answered with HTTP 502', rate, 0)
    .option('--reset-rate <p>', 'share of calls whose connection is reset before processing', rate, 0)
    .option('--server-busy-rate <p>', 'share of calls answered with Code 1 (server busy)', rate, 0)
    .option('--too-frequent-rate <p>', 'chance that a call starts a burst of "too frequent" answers', rate, 0)
    .option('--too-frequent-length <n>', 'calls per "too frequent" burst', integer, 20)
    .option('--commit-then-drop-rate <p>', 'share of successful writes applied, then their connection dropped', rate, 0)
    .option('--fault-actions <A,B,...>', 'apply faults only to these Actions', actions)
    .option('--callback-url <url>', "post ZIM's callbacks (send_msg, group_*) to this URL (none: callbacks off)")
    .option(
      '--callback-secret-file <file>',
      'sign callbacks with the secret in this file (else ZIM_CALLBACK_SECRET, else the ServerSecret)'
    )
    .option('--callback-retry-delays <ms,...>', "delays before each retry (ZEGO's: 2000,4000,8000,16000,32000)", delays)
    .option('--callback-timeout-ms <n>', 'per-attempt timeout of a callback', integer, 3_000)
    .option('--callback-fault-seed <n>', 'seed of the callback fault generator', integer, 1)
    .option('--callback-duplicate-rate <p>', 'share of callbacks delivered twice', rate, 0)
    .option('--callback-reorder-rate <p>', 'share of callbacks held back so later ones overtake them', rate, 0)
    .option('--callback-reorder-delay-ms <n>', 'how long a held-back callback waits', integer, 200)
    .option('--callback-loss-rate <p>', 'share of callbacks lost without any attempt', rate, 0)
    .option('--import-fires-send-msg', 'UNCONFIRMED: ImportPeerMsg/ImportGroupMsg fire send_msg (default: no)', false)
    .option('--no-group-callbacks-on-server-ops', 'UNCONFIRMED: server-API group operations fire no group callbacks')
    .option('--no-edit-reuses-msg-id', "UNCONFIRMED: an edit's send_msg carries a new msg_id")
    .option('--json', 'once listening, print {"url","appId","plan","rateLimits"} as one JSON line (for scripts)')
    .addHelpText(
      'after',
      `
The emulator keeps everything in memory and serves ZIM's API at <url>/?Action=... . Its state, counters, faults and
limits are readable and changeable at <url>/_emulator/ (see docs/zim-emulator.md). It never prints the ServerSecret.

Examples:
  $ ZIM_SERVER_SECRET=0123456789abcdef0123456789abcdef zim-migrate emulator --app-id 1234 --port 8089
  $ zim-migrate emulator --app-id 1234 --server-secret-file ./secret --plan enterprise --ordering lenient
  $ zim-migrate emulator --app-id 1 --server-secret-file s --no-rate-limits          # benchmarks
  $ zim-migrate emulator --app-id 1 --server-secret-file s --reset-rate 0.05 --commit-then-drop-rate 0.02 \\
        --fault-seed 42 --fault-actions ImportPeerMsg,ImportGroupMsg                   # chaos rehearsal
  $ zim-migrate emulator --app-id 1 --server-secret-file s --callback-url http://127.0.0.1:8090/zim/callback \
        --callback-duplicate-rate 0.05 --callback-reorder-rate 0.05 --callback-fault-seed 7   # coexistence
  $ curl -s localhost:8089/_emulator/counters
  $ curl -s -XPOST localhost:8089/_emulator/sdk/send -d '{"from":"alice","to":"bob","body":"hi"}'   # an App 2.0 user
  $ curl -s -XPOST localhost:8089/_emulator/faults -d '{"seed":7,"http5xxRate":0.1}'
  $ zim-migrate emulator --app-id 1 --server-secret-file s --json | head -n1 | jq -r .url     port 0: read the URL

Exit codes: 0 stopped by Ctrl-C or SIGTERM, 1 failure (e.g. the port is taken), 2 bad usage (no ServerSecret,
a bad flag value).`
    )
    .action(async (flags: EmulatorFlags) => {
      const emulator = await startZimEmulator(emulatorOptions(flags));
      const limits = flags.rateLimits ? 'rate limits on' : 'rate limits off';
      if (flags.json)
        console.log(
          JSON.stringify({ url: emulator.url, appId: emulator.appId, plan: flags.plan, rateLimits: flags.rateLimits })
        );
      else {
        console.log(
          `ZIM emulator listening on ${emulator.url} (AppId ${emulator.appId}, plan ${flags.plan}, ${limits})`
        );
        console.log(`introspection: ${emulator.url}/_emulator/state, /_emulator/counters, /_emulator/faults`);
        if (flags.callbackUrl) console.log(`callbacks: posted to ${flags.callbackUrl} (see /_emulator/callbacks)`);
      }
      await untilStopSignal();
      await emulator.stop();
    });
}

/**
 * The emulator's options, validated with zod at the boundary (constructor, CLI, introspection API), and the
 * resolved runtime configuration. Defaults are ZIM's documented limits on the Pro plan.
 */
import { z } from 'zod';
import { ZIM_ACTION_NAMES, type ZimAction } from '../zim-client/actions';
import { CallbacksSchema } from './callback-config';
import { ZimCode } from '../zim-client/codes';
import {
  ZIM_FIELD_LIMITS,
  ZIM_GROUP_RATE_LIMITS,
  ZIM_PLAN_NAMES,
  ZIM_PLANS,
  ZIM_RATE_LIMITS,
  type PlanLimits,
  type ZimPlan,
  type RateLimit,
} from '../zim-client/limits';

const actionName = z.enum(ZIM_ACTION_NAMES as [ZimAction, ...ZimAction[]]);
const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);

export const PlanLimitsSchema = z.object({
  retentionDays: positiveInt,
  maxMessageBytes: positiveInt.max(32 * 1024),
  maxMultiItemMessageBytes: positiveInt.max(32 * 1024),
  maxExtraBytes: positiveInt.max(32 * 1024),
  maxGroupMembers: positiveInt,
  maxFriendsPerUser: positiveInt,
  maxBlocksPerUser: positiveInt,
  maxFriendsPerCall: positiveInt.max(50),
}) satisfies z.ZodType<PlanLimits>;

export const RateLimitsSchema = z.object({
  /** false turns every rate limit off (benchmarks, bulk seeding). */
  enabled: z.boolean().default(true),
  /** Per-Action per-app calls per second, overriding ZIM's (20/s). */
  perSecond: z.partialRecord(actionName, positiveInt).default({}),
  /**
   * Per-group calls per second, overriding ZIM's (1/s: InviteUsersIntoGroup, SetGroupMembersNickname, DismissGroup,
   * TransferGroupOwner). UpdateGroupData and ModifyGroupAttribute have none unless one is set here.
   */
  perGroupPerSecond: z.partialRecord(actionName, positiveInt).default({}),
  /** The code answered when an Action's limit is hit, overriding the table in zim-client/limits.ts. */
  codes: z.partialRecord(actionName, z.number().int()).default({}),
});

export const BehaviourSchema = z.object({
  /** strict: an import older than its conversation's newest message is refused; lenient: it is sorted in. */
  ordering: z.enum(['strict', 'lenient']).default('strict'),
  /** mutual: AddFriends A→B also lists A in B's friends (so B→A then answers "already friends"). */
  friendship: z.enum(['mutual', 'one-way']).default('mutual'),
  /** Whether imported messages count as unread for the conversation's owner (ZIM does not document it). */
  importRaisesUnread: z.boolean().default(false),
  /** Whether a space is a legal character in user and group ids (the docs' charset lists disagree). */
  allowSpaceInIds: z.boolean().default(true),
  /** Whether ImportGroupMsg requires the sender to be a current member (historic senders may have left). */
  groupImportRequiresMembership: z.boolean().default(false),
  /**
   * Whether UpdateGroupData and ModifyGroupAttribute need an operator who is the owner or an admin, and
   * TransferGroupOwner the owner (660600032); false: any registered user, as for DismissGroup.
   */
  groupEditsRequireRole: z.boolean().default(true),
  /** Accepted difference between the request Timestamp and the server clock. */
  timestampToleranceSeconds: z.number().int().nonnegative().default(ZIM_FIELD_LIMITS.timestampToleranceSeconds),
});

export const FaultsSchema = z.object({
  /** Seed of the fault generator: the same seed and request sequence give the same faults. */
  seed: z.number().int().default(1),
  /** The Actions faults apply to (all when absent). */
  actions: z.array(actionName).optional(),
  /** Added before answering, plus a uniform random 0..latencyJitterMs. */
  latencyMs: z.number().nonnegative().default(0),
  latencyJitterMs: z.number().nonnegative().default(0),
  /** With probability `rate` a call waits `ms` more before being processed: a slow moment of the server. */
  latencySpike: z.object({ rate: probability, ms: z.number().nonnegative() }).optional(),
  /** Share of calls answered with HTTP 502 and a non-JSON body, before any processing. */
  http5xxRate: probability.default(0),
  /** Share of calls whose connection is reset before any processing. */
  resetRate: probability.default(0),
  /** Share of calls answered with Code 1 (server busy), before any processing. */
  serverBusyRate: probability.default(0),
  /** With probability startRate a call starts a burst of `length` "too frequent" answers (the Action's code). */
  tooFrequentBurst: z.object({ startRate: probability, length: positiveInt }).optional(),
  /** Share of successful state-changing calls that are applied and then have their connection dropped. */
  commitThenDropRate: probability.default(0),
});

export const PlanSchema = z.enum(ZIM_PLAN_NAMES);

/** Runtime-changeable settings (also POST /_emulator/limits). */
export const ConfigPatchSchema = z.object({
  plan: PlanSchema.optional(),
  limits: PlanLimitsSchema.partial().optional(),
  rateLimits: RateLimitsSchema.partial().optional(),
  behaviour: BehaviourSchema.partial().optional(),
});

export const EmulatorOptionsSchema = z.object({
  appId: z.number().int().min(0).max(0xffff_ffff),
  serverSecret: z.string().min(1),
  /** Loopback by default: the emulator has no authentication on its introspection API. */
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(0),
  plan: PlanSchema.default('pro'),
  limits: PlanLimitsSchema.partial().default({}),
  rateLimits: RateLimitsSchema.default(RateLimitsSchema.parse({})),
  behaviour: BehaviourSchema.default(BehaviourSchema.parse({})),
  faults: FaultsSchema.default(FaultsSchema.parse({})),
  /** Callbacks to the app's backend (off until a URL is given): src/zim-emulator/callback-config.ts. */
  callbacks: CallbacksSchema.default(CallbacksSchema.parse({})),
  /** Milliseconds since the epoch; tests inject a controllable clock. */
  clock: z.custom<() => number>((v) => typeof v === 'function', 'clock must be a function').optional(),
  maxBodyBytes: positiveInt.default(1024 * 1024),
});

export type EmulatorOptions = z.input<typeof EmulatorOptionsSchema>;
export type FaultsInput = z.input<typeof FaultsSchema>;
export type Faults = z.output<typeof FaultsSchema>;
export type Behaviour = z.output<typeof BehaviourSchema>;
export type RateLimitsConfig = z.output<typeof RateLimitsSchema>;
export type ConfigPatch = z.input<typeof ConfigPatchSchema>;

/** What handlers read: resolved limits and behaviour, swapped as a whole when reconfigured. */
export interface RuntimeConfig {
  plan: ZimPlan;
  /** Overrides on top of the plan, kept so that a plan change re-applies them. */
  limitOverrides: Partial<PlanLimits>;
  limits: PlanLimits;
  rateLimits: RateLimitsConfig;
  behaviour: Behaviour;
}

export function resolveConfig(
  plan: ZimPlan,
  limitOverrides: Partial<PlanLimits>,
  rateLimits: RateLimitsConfig,
  behaviour: Behaviour
): RuntimeConfig {
  return { plan, limitOverrides, limits: { ...ZIM_PLANS[plan], ...limitOverrides }, rateLimits, behaviour };
}

export function applyConfigPatch(current: RuntimeConfig, patch: z.output<typeof ConfigPatchSchema>): RuntimeConfig {
  return resolveConfig(
    patch.plan ?? current.plan,
    { ...current.limitOverrides, ...patch.limits },
    { ...current.rateLimits, ...patch.rateLimits },
    { ...current.behaviour, ...patch.behaviour }
  );
}

/** The per-app limit of an Action under this configuration, or undefined when limits are off. */
export function appRateLimit(config: RuntimeConfig, action: ZimAction): RateLimit | undefined {
  if (!config.rateLimits.enabled) return undefined;
  const base = ZIM_RATE_LIMITS[action];
  return {
    perSecond: config.rateLimits.perSecond[action] ?? base.perSecond,
    code: config.rateLimits.codes[action] ?? base.code,
  };
}

/** The per-group limit of an Action, or undefined when it has none or limits are off. */
export function groupRateLimit(config: RuntimeConfig, action: ZimAction): RateLimit | undefined {
  if (!config.rateLimits.enabled) return undefined;
  const base = ZIM_GROUP_RATE_LIMITS[action];
  const perSecond = config.rateLimits.perGroupPerSecond[action] ?? base?.perSecond;
  if (perSecond === undefined) return undefined;
  return { perSecond, code: base?.code ?? ZimCode.GROUP_RATE_LIMITED };
}

/** A zod error as one line of paths and messages, never echoing input values (the secret could be one). */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

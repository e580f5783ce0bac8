/**
 * Configuration of the emulator's callbacks to the app's backend (coexistence.md §3, §6): where they go, how they
 * are signed and retried, which seeded delivery faults apply, and a switch for each behaviour ZIM's docs leave
 * UNCONFIRMED (docs/zim-emulator.md lists the defaults and why).
 */
import { z } from 'zod';
import { ZIM_CALLBACK_EVENTS } from '../zim-callbacks/events';

const probability = z.number().min(0).max(1);
const ms = z.number().int().nonnegative();

/** ZEGO's documented schedule: up to 5 retries, 2, 4, 8, 16 and 32 s after the previous attempt, then lost. */
export const ZEGO_RETRY_DELAYS_MS = [2_000, 4_000, 8_000, 16_000, 32_000] as const;

export const CallbackFaultsSchema = z.object({
  /** Seed of the delivery fault generator: the same seed and sequence of callbacks give the same faults. */
  seed: z.number().int().default(1),
  /** Share of callbacks delivered twice (a second, independently signed copy after `duplicateDelayMs`). */
  duplicateRate: probability.default(0),
  duplicateDelayMs: ms.default(50),
  /** Share of callbacks held back `reorderDelayMs` before their first attempt, so later ones overtake them. */
  reorderRate: probability.default(0),
  reorderDelayMs: ms.default(200),
  /** Share of callbacks lost outright, never attempted (ZEGO: callbacks "cannot guarantee complete reliability"). */
  lossRate: probability.default(0),
  /**
   * Share of server-API calls whose answer waits until their callbacks' first attempt is over: the echo reaches the
   * receiver before the caller learns its send succeeded (coexistence.md §6.6).
   */
  echoBeforeResponseRate: probability.default(0),
});

export const CallbackSwitchesSchema = z.object({
  /** UNCONFIRMED: do ImportPeerMsg/ImportGroupMsg fire send_msg? ZIM is silent; Tencent's import does not. */
  importFiresSendMsg: z.boolean().default(false),
  /** UNCONFIRMED: do server-API CreateGroup, InviteUsersIntoGroup, KickoutGroupUser, DismissGroup fire group callbacks? */
  groupCallbacksOnServerOps: z.boolean().default(true),
  /** UNCONFIRMED: does an edit's send_msg carry the original msg_id (true) or a new one? */
  editReusesMsgId: z.boolean().default(true),
  /** UNCONFIRMED: does a single-receiver server SendPeerMessage fill the top-level msg_id (the ZH sample does)? */
  singleServerPeerSendFillsMsgId: z.boolean().default(true),
  /** Apps using send_msg before 2024-01-05 lack user_list until support enables it. */
  userListEnabled: z.boolean().default(true),
  /** ZIM omits `source` when it is 0 (SDK); true writes `"source":0`. */
  includeZeroSource: z.boolean().default(false),
  /** UNCONFIRMED: the EN sample names the join event Apply_join_group, the table and the ZH page group_join. */
  groupJoinEventName: z.enum(['group_join', 'Apply_join_group']).default('group_join'),
  /** UNCONFIRMED: whether a retry reuses the first attempt's timestamp, nonce and signature. */
  freshSignaturePerAttempt: z.boolean().default(true),
});

const callbackFields = {
  /** Where every event is posted (one URL for all, as the console offers); none: callbacks off. */
  url: z.string().url().optional(),
  /** The callback secret; UNCONFIRMED whether ZIM's equals the ServerSecret, so it defaults to it. Never shown. */
  secret: z.string().min(1).optional(),
  /** The events sent (all by default). */
  events: z.array(z.enum(ZIM_CALLBACK_EVENTS)).default([...ZIM_CALLBACK_EVENTS]),
  /** Delays before each retry; tests shorten them. */
  retryDelaysMs: z
    .array(ms)
    .max(20)
    .default([...ZEGO_RETRY_DELAYS_MS]),
  /** UNCONFIRMED per-attempt timeout (coexistence.md §6.5 suggests 3 s). */
  attemptTimeoutMs: z.number().int().positive().default(3_000),
  /** How many delivery records introspection keeps (newest). */
  logSize: z.number().int().nonnegative().default(1_000),
};

export const CallbacksSchema = z.object({
  ...callbackFields,
  switches: CallbackSwitchesSchema.default(CallbackSwitchesSchema.parse({})),
  faults: CallbackFaultsSchema.default(CallbackFaultsSchema.parse({})),
});

/** A runtime change (POST /_emulator/callbacks): what it names changes, the rest stays; faults are replaced whole. */
export const CallbacksPatchSchema = z.object({
  url: z.string().url().nullable().optional(),
  secret: z.string().min(1).optional(),
  events: callbackFields.events.optional(),
  retryDelaysMs: callbackFields.retryDelaysMs.optional(),
  attemptTimeoutMs: callbackFields.attemptTimeoutMs.optional(),
  logSize: callbackFields.logSize.optional(),
  switches: CallbackSwitchesSchema.partial().optional(),
  faults: CallbackFaultsSchema.optional(),
});

export type CallbacksInput = z.input<typeof CallbacksSchema>;
export type CallbacksConfig = z.output<typeof CallbacksSchema>;
export type CallbacksPatch = z.input<typeof CallbacksPatchSchema>;
export type CallbackSwitches = z.output<typeof CallbackSwitchesSchema>;
export type CallbackFaults = z.output<typeof CallbackFaultsSchema>;

/** The configuration as introspection shows it: the secret only as whether one is set apart from the ServerSecret. */
export function publicCallbacks(c: CallbacksConfig): Omit<CallbacksConfig, 'secret'> & { ownSecret: boolean } {
  const { secret, ...rest } = c;
  return { ...rest, ownSecret: secret !== undefined };
}

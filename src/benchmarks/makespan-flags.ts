/**
 * bench:makespan's flags and its two workloads: what `gen` and `plan` are given and what the emulator must accept
 * for each `--shape`.
 *   synthetic: gen's default shape (recent history, groups up to 200 members).
 *   real:      `gen --shape real` (issue #16's messy export): power-law conversation lengths with one very long
 *              conversation among many of one or two messages, a 700-member room, history from 2015 to 2019, and
 *              records ZIM cannot take, left out by `plan --exclude-errors`. Its defaults (3,000 users, seed 18,
 *              16,000 one-to-one and 12,000 room messages) stage, besides the longest conversation (3,190 messages),
 *              conversations of 1,010 and 787 messages, rooms of 700 and 680 members and 1,917 conversations of one
 *              or two messages; a lower bound of about 12 minutes at 50 calls/s (docs/benchmarks.md). Other seeds or
 *              smaller sizes may have no conversation near 1,000 messages nor a second large room.
 */
import { z } from 'zod';
import { REAL_SHAPE_LIMITS, REAL_SHAPE_PLAN_FLAGS } from '../synthetic/real-shape';
import type { EmulatorOptions } from '../zim-emulator';
import { camelCaseKeys, wholeNumber } from './bench-flags';

export const SHAPES = ['synthetic', 'real'] as const;
export type Shape = (typeof SHAPES)[number];

/** Each shape's size unless the flags say otherwise. */
const SHAPE_DEFAULTS: Record<Shape, { seed: number; messages: number; groupMessages: number }> = {
  synthetic: { seed: 7, messages: 10_000, groupMessages: 10_000 },
  real: { seed: 18, messages: 16_000, groupMessages: 12_000 },
};

const Flags = z.object({
  shape: z.enum(SHAPES, { error: '--shape: synthetic or real' }).default('synthetic'),
  users: wholeNumber('--users', 2).default(3000),
  messages: wholeNumber('--messages', 0).optional(),
  groupMessages: wholeNumber('--group-messages', 0).optional(),
  rate: wholeNumber('--rate', 1).max(10_000).default(50),
  seed: wholeNumber('--seed', 0).optional(),
  rssEvery: wholeNumber('--rss-every', 1).default(5),
  timeoutMinutes: wholeNumber('--timeout-minutes', 1).default(30),
  stepMs: z.coerce.number({ error: '--step-ms must be a number of ms' }).min(0, '--step-ms must be ≥ 0').optional(),
  seriesOut: z.string().min(1, '--series-out: a file path').optional(),
});

/** parseArgs' options: every flag a string, checked and defaulted by `parseMakespanFlags`. */
export const MAKESPAN_OPTIONS = {
  shape: { type: 'string' },
  users: { type: 'string' },
  messages: { type: 'string' },
  'group-messages': { type: 'string' },
  rate: { type: 'string' },
  seed: { type: 'string' },
  'rss-every': { type: 'string' },
  'timeout-minutes': { type: 'string' },
  'step-ms': { type: 'string' },
  'series-out': { type: 'string' },
} as const;

/** parseArgs' values checked, with the shape's own size where a flag is absent. */
export function parseMakespanFlags(values: Record<string, unknown>) {
  const o = Flags.parse(camelCaseKeys(values));
  const d = SHAPE_DEFAULTS[o.shape];
  return {
    ...o,
    seed: o.seed ?? d.seed,
    messages: o.messages ?? d.messages,
    groupMessages: o.groupMessages ?? d.groupMessages,
  };
}
export type MakespanFlags = ReturnType<typeof parseMakespanFlags>;

/** The gen and plan flags of the workload (besides --users, --seed and the rates) and the emulator's plan limits. */
export function workloadArgs(o: MakespanFlags): { gen: string[]; plan: string[]; limits: EmulatorOptions['limits'] } {
  const size = ['--messages', String(o.messages), '--group-messages', String(o.groupMessages)];
  if (o.shape === 'synthetic') return { gen: size, plan: [], limits: {} };
  // Years-old history and a 700-member room: plan and the emulator both take them, and the records ZIM cannot take
  // are left out (listed in the rejects file) rather than stopping the plan.
  return {
    gen: ['--shape', 'real', ...size],
    plan: [...REAL_SHAPE_PLAN_FLAGS, '--exclude-errors'],
    limits: { ...REAL_SHAPE_LIMITS },
  };
}

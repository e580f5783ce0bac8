/**
 * Building blocks of the emulator's business rules: refusing a call with a ZIM code, identifier and length checks,
 * page clamping, and the partial-success answer of batch endpoints (zim-api.md §5, §9.4, §9.7, §9.8).
 */
import { ZIM_ACTIONS, type ZimAction } from '../zim-client/actions';
import { ZimCode } from '../zim-client/codes';
import {
  ZIM_BATCH_LIMITS,
  ZIM_FIELD_LIMITS,
  ZIM_PAGE_LIMITS,
  type BatchLimitedAction,
  type PagedAction,
} from '../zim-client/limits';

/** Thrown by a handler to refuse the whole call with a ZIM code. */
export class Refusal extends Error {
  constructor(
    readonly code: number,
    readonly zimMessage: string
  ) {
    super(zimMessage);
  }
}

export function refuse(code: number, message: string): never {
  throw new Refusal(code, message);
}

/** A handler's answer: the envelope's Code and Message plus fields; `raw` fields are pre-serialised JSON. */
export interface Reply {
  code: number;
  message?: string;
  fields?: Record<string, unknown>;
  raw?: Record<string, string>;
  /** The answer waits for this (the echo-before-response callback fault). */
  hold?: Promise<void>;
}

export const ok = (fields?: Record<string, unknown>, raw?: Record<string, string>): Reply => ({
  code: ZimCode.SUCCESS,
  ...(fields ? { fields } : {}),
  ...(raw ? { raw } : {}),
});

export interface ItemProblem {
  code: number;
  message: string;
}

export const problem = (code: number, message: string): ItemProblem => ({ code, message });

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

// §5: digits, letters and ! # $ % & ( ) + - : ; < = . > ? @ [ ] ^ _ { } | ~ (and, per some pages, space).
const ID_CHARSET = /^[0-9A-Za-z!#$%&()+\-:;<=.>?@[\]^_{}|~]+$/;
const ID_CHARSET_WITH_SPACE = /^[0-9A-Za-z!#$%&()+\-:;<=.>?@[\]^_{}|~ ]+$/;

/** What is wrong with a user or group id, if anything. */
export function idProblem(
  id: string,
  allowSpace: boolean,
  maxBytes: number = ZIM_FIELD_LIMITS.idBytes
): ItemProblem | undefined {
  if (id.length === 0) return problem(ZimCode.PARAM_INVALID, 'id is empty');
  if (utf8Bytes(id) > maxBytes) return problem(ZimCode.USER_ID_TOO_LONG, 'user length limit');
  if (!(allowSpace ? ID_CHARSET_WITH_SPACE : ID_CHARSET).test(id)) {
    return problem(ZimCode.PARAM_INVALID, 'id has characters outside the allowed set');
  }
  return undefined;
}

/** Refuses the call when an id that the whole call depends on is malformed. */
export function requireValidId(id: string, field: string, allowSpace: boolean): void {
  const p = idProblem(id, allowSpace);
  if (p) refuse(p.code, `${field}: ${p.message}`);
}

/** Refuses an empty batch or one over the Action's documented size. */
export function requireBatchSize(action: BatchLimitedAction, size: number, max?: number): void {
  const limit = ZIM_BATCH_LIMITS[action];
  if (size === 0) refuse(ZimCode.PARAM_INVALID, `${limit.field} is empty`);
  const allowed = max ?? limit.max;
  if (size > allowed) refuse(limit.code, `${limit.field} has ${size} items, at most ${allowed} allowed`);
}

/** ≤0 or absent becomes the default, over the maximum becomes the maximum (§9.7: clamped, never refused). */
export function clampLimit(action: ZimAction, limit: number | undefined): number {
  const page: { default: number; max: number } | undefined = ZIM_PAGE_LIMITS[action as PagedAction];
  if (!page) throw new Error(`no page limit for ${action}`);
  if (limit === undefined || limit <= 0) return page.default;
  return Math.min(limit, page.max);
}

/** A cursor sent back by the client: a JSON number, or a decimal string. */
export function cursorValue(next: number | string | undefined): number {
  if (next === undefined) return 0;
  const n = typeof next === 'number' ? next : Number(next);
  if (!Number.isSafeInteger(n) || n < 0) refuse(ZimCode.PARAM_INVALID, 'Next is not a cursor this server returned');
  return n;
}

/** Offset paging for friend, block and conversation lists: Next is the offset of the next page, 0 at the end. */
export function pageByOffset<T>(items: T[], limit: number, next: number): { page: T[]; next: number } {
  const page = items.slice(next, next + limit);
  const end = next + page.length;
  return { page, next: end < items.length ? end : 0 };
}

export type Failure = { id: string } & ItemProblem;

/**
 * Runs a batch item by item: `check` names what is wrong with an item (given the state left by the items before
 * it), `apply` stores the ones that pass. Returns the failures in request order.
 */
export function processItems<T>(
  items: readonly T[],
  idOf: (item: T) => string,
  check: (item: T) => ItemProblem | undefined,
  apply: (item: T) => void
): Failure[] {
  const failures: Failure[] = [];
  for (const item of items) {
    const p = check(item);
    if (p) failures.push({ id: idOf(item), ...p });
    else apply(item);
  }
  return failures;
}

export interface ItemFailure {
  UserId: string;
  SubCode: number;
  SubMessage?: string;
}

/**
 * The partial-success answer (§9.4): Code 0 with the failure list when at least one item succeeded, Code≠0 with
 * the full list when every item failed. The Code for "every item failed" is `allFailedCode` or else the most common
 * SubCode (UNCONFIRMED, see docs/zim-assumptions.md).
 */
export function batchReply(
  action: ZimAction,
  itemCount: number,
  failures: Array<{ id: string } & ItemProblem>,
  options: { withSubMessage?: boolean; allFailedCode?: number; fields?: Record<string, unknown> } = {}
): Reply {
  const list: ItemFailure[] = failures.map((f) =>
    options.withSubMessage
      ? { UserId: f.id, SubCode: f.code, SubMessage: f.message }
      : { UserId: f.id, SubCode: f.code }
  );
  const field = (ZIM_ACTIONS[action] as { failureList?: string }).failureList;
  if (!field) throw new Error(`${action} has no failure list`);
  const fields = { ...options.fields, [field]: list };
  if (itemCount === 0 || failures.length < itemCount) return ok(fields);
  const code = options.allFailedCode ?? mostCommonCode(failures);
  return { code, message: 'the operation failed for every item', fields };
}

function mostCommonCode(failures: ItemProblem[]): number {
  const counts = new Map<number, number>();
  let best = failures[0]?.code ?? ZimCode.LOGIC_ERROR;
  for (const f of failures) {
    const n = (counts.get(f.code) ?? 0) + 1;
    counts.set(f.code, n);
    if (n > (counts.get(best) ?? 0)) best = f.code;
  }
  return best;
}

/** A business timestamp (FriendTime, CreateGroupTime, EnterGroupTime): 0 or absent = now, never in the future. */
export function businessTime(value: number | undefined, now: number): number | ItemProblem {
  if (value === undefined || value === 0) return now;
  if (value < 0) return problem(ZimCode.PARAM_INVALID, 'timestamp is negative');
  if (value > now) return problem(ZimCode.TIME_IN_FUTURE, 'timestamp is later than the current time');
  return value;
}

export const isProblem = (v: unknown): v is ItemProblem =>
  typeof v === 'object' && v !== null && 'code' in v && 'message' in v;

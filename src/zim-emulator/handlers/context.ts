/** What every Action handler receives, and the small lookups most of them start with. */
import type { z } from 'zod';
import type { ZimAction } from '../../zim-client/actions';
import type { ZIM_REQUEST_SCHEMAS } from '../../zim-client/requests';
import type { CallbackPayload } from '../../zim-callbacks/events';
import type { CallbackSwitches } from '../callback-config';
import type { RuntimeConfig } from '../config';
import { refuse, requireValidId, type Reply } from '../rules';
import type { EmulatorState, GroupRecord } from '../state';
import { ZimCode } from '../../zim-client/codes';

export interface HandlerContext {
  state: EmulatorState;
  config: RuntimeConfig;
  /** The server clock for this call, in ms. */
  now: number;
  /** Refuses the call when the Action's per-group rate limit is used up. */
  checkGroupRate(groupId: string): void;
  /** The switches for behaviours of callbacks the docs leave open. */
  callbackSwitches: CallbackSwitches;
  /** Queues a callback, sent once the call has succeeded (a refused call fires none). */
  emit(payload: CallbackPayload): void;
}

export type ParsedRequest<A extends ZimAction> = z.output<(typeof ZIM_REQUEST_SCHEMAS)[A]>;
export type Handler<A extends ZimAction> = (ctx: HandlerContext, request: ParsedRequest<A>) => Reply;

/** The interned number of a user the call depends on; refuses with `code` when the user is not registered. */
export function requireUser(ctx: HandlerContext, userId: string, field: string, code: number): number {
  requireValidId(userId, field, ctx.config.behaviour.allowSpaceInIds);
  const n = ctx.state.userNumber(userId);
  if (n === undefined) refuse(code, `${field} ${userId} is not registered`);
  return n;
}

export function requireGroup(ctx: HandlerContext, groupId: string): GroupRecord {
  const group = ctx.state.group(groupId);
  if (!group) refuse(ZimCode.GROUP_NOT_FOUND, `group ${groupId} does not exist`);
  return group;
}

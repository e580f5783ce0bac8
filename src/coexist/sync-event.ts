/**
 * What the receiver hands a conversation's workflow: one event from either side, normalised, with no message text
 * (the body is in the coexistence store; `bodyRef` names it). Workflows import only the types.
 */
import { z } from 'zod';

export const SyncEventSchema = z.object({
  /** Dedup key: the same change redelivered has the same key. */
  eventKey: z.string(),
  origin: z.enum(['zim', 'legacy']),
  /** `peer:<a>:<b>` (sorted) or `group:<id>`: the workflow's id is `coexist:` + this. */
  conv: z.string(),
  /**
   * message: a message to mirror; echo: one that came from us (ZIM `source` 1, or a legacy event carrying our
   * origin tag or client id), never mirrored; group: a group change, applied as convergent state.
   */
  kind: z.enum(['message', 'echo', 'group']),
  occurredAt: z.number(),
  /** Order within the conversation on its side: ZIM msg_seq, legacy seq. */
  order: z.number().int().nonnegative(),
  from: z.string().optional(),
  to: z.string().optional(),
  groupId: z.string().optional(),
  bodyRef: z.string().optional(),
  /** The message's id on its own side. */
  msgId: z.string().optional(),
  /** For an echo: the id on the other side of the message we mirrored (ZIM: the legacy id; legacy: the ZIM msg_id). */
  echoOf: z.string().optional(),
  /** For a group event: what changed, the same on both sides. */
  groupEvent: z.enum(['created', 'dismissed', 'changed', 'joined', 'left']).optional(),
  /** For a group event: the members it names (created: all members; joined/left: those who joined or left). */
  users: z.array(z.string()).optional(),
  /** For a group event: who made the change on its side, when it names one. */
  operator: z.string().optional(),
});
export type SyncEvent = z.output<typeof SyncEventSchema>;

/** The origin tag and client message id our legacy writes carry, and how to read them back. */
export const ORIGIN_TAG_PREFIX = 'zim-migrate:';
export const CLIENT_MSG_ID_PREFIX = 'zim:';
/** The ExtendedData our ZIM sends carry: `{"_mig":{"lid":"<legacy id>"}}`. */
export function zimExtendedData(legacyMsgId: string): string {
  return JSON.stringify({ _mig: { lid: legacyMsgId } });
}
export function legacyIdInPayload(payload: string | undefined): string | undefined {
  if (!payload) return undefined;
  try {
    const parsed = z.object({ _mig: z.object({ lid: z.string() }) }).safeParse(JSON.parse(payload));
    return parsed.success ? parsed.data._mig.lid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A group event's profile fields, kept in the store like a message body (bodyRef) so no group name or notice
 * enters workflow history. Absent fields are unchanged.
 */
export const GroupProfileSchema = z.object({
  name: z.string().optional(),
  notice: z.string().optional(),
  avatar: z.string().optional(),
  owner: z.string().optional(),
});
export type GroupProfile = z.output<typeof GroupProfileSchema>;

export const workflowIdFor = (conv: string) => `coexist:${conv}`;

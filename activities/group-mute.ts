/**
 * The last step of a muted group's history child: MuteGroup, once the group's history is imported (a frozen source
 * channel stays frozen in ZIM, and no import runs into a muted group). MuteGroup sets a state, so a repeat changes
 * nothing: a retry after an ambiguous failure simply calls again. The ledger records the outcome under
 * `mute/<group>` in the group-messages stage, and a settled entry is never called again.
 */
import { ledgerKeys } from '../src/staging/ledger-keys';
import type { LedgerEntry } from '../src/staging/migration-store';
import { ZimPermanentError } from '../src/zim-client';
import { ZIM_ROLE } from '../src/zim-client/roles';
import type { StepResult } from './contract';
import { scheduledRead } from './scheduled-call';
import { refusal, type Findings, type VerifyDeps } from './verify-findings';

/**
 * How a muted group is muted. `members` (the default): plain members (role 3) muted with no end, so the owner and
 * admins can still send, as operators can in a frozen Sendbird channel. `all`: `IsAllMuted` (whether ZIM then lets
 * the owner and admins send is UNCONFIRMED). Also UNCONFIRMED: that Duration -1 means "no end" for MuteGroup (it is
 * documented for MuteGroupMembers). The worker reads `ZIM_MIGRATE_MUTE_GROUP` (`members` or `all`); verify expects
 * the same.
 */
export type GroupMuteMode = 'members' | 'all';

export function groupMuteMode(env: NodeJS.ProcessEnv = process.env): GroupMuteMode {
  const v = env.ZIM_MIGRATE_MUTE_GROUP;
  if (v === undefined || v === '' || v === 'members') return 'members';
  if (v === 'all') return 'all';
  throw new Error(`ZIM_MIGRATE_MUTE_GROUP must be "members" or "all", not "${v}"`);
}

export function muteRequest(mode: GroupMuteMode): { IsAllMuted: boolean; MuteRoleList?: number[]; Duration: number } {
  return mode === 'all'
    ? { IsAllMuted: true, Duration: -1 }
    : { IsAllMuted: false, MuteRoleList: [ZIM_ROLE.member], Duration: -1 };
}

/** Whether ZIM's mute state (QueryGroupInfo) is what `mode` set. */
export function muteMatches(mode: GroupMuteMode, mute: { all: boolean; roles: number[] }): boolean {
  return mode === 'all' ? mute.all : !mute.all && mute.roles.length === 1 && mute.roles[0] === ZIM_ROLE.member;
}

export type MuteAttempt = { kind: 'muted' } | { kind: 'refused'; code: number; message: string };

export interface GroupMutePorts {
  ledgerGet(key: string): Promise<LedgerEntry | undefined>;
  ledgerPut(key: string, entry: LedgerEntry & { sourceId: string }): Promise<void>;
  /** Waits for a call slot, then calls MuteGroup as the group's owner. Throws only for retryable trouble. */
  mute(): Promise<MuteAttempt>;
}

export async function muteGroupStep(ports: GroupMutePorts, groupId: string): Promise<StepResult> {
  const key = ledgerKeys.mute(groupId);
  const settled = await ports.ledgerGet(key);
  const none = { done: 0, failed: 0, skipped: 0, calls: 0, hasMore: false };
  if (settled && settled.status !== 'pending') return { ...none, [settled.status]: 1 };
  const attempt = await ports.mute();
  if (attempt.kind === 'muted') {
    await ports.ledgerPut(key, { status: 'done', sourceId: groupId });
    return { ...none, done: 1, calls: 1 };
  }
  await ports.ledgerPut(key, {
    status: 'failed',
    sourceId: groupId,
    zimCode: attempt.code,
    zimMessage: attempt.message,
  });
  return { ...none, failed: 1, calls: 1 };
}

/**
 * Verify's check of a muted group (one ledger row `muted/<group>`): if the ledger says MuteGroup landed, ZIM's mute
 * state (QueryGroupInfo) must be what it set; a failed MuteGroup is already a failed record of group-messages.
 */
export async function verifyGroupMute(deps: VerifyDeps, findings: Findings, groupId: string, owner: string) {
  const settled = (await deps.store.ledgerGet('group-messages', [ledgerKeys.mute(groupId)])).get(
    ledgerKeys.mute(groupId)
  );
  if (settled?.status !== 'done') return findings.add(ledgerKeys.verifyMute(groupId), []);
  try {
    const info = await scheduledRead(deps.scheduler, 'QueryGroupInfo', undefined, () =>
      deps.zim.queryGroupInfo({ FromUserId: owner, GroupId: groupId })
    );
    findings.outcome.calls++;
    const mode = groupMuteMode();
    findings.add(
      ledgerKeys.verifyMute(groupId),
      muteMatches(mode, info.mute)
        ? []
        : [`mute differs: expected ${mode}, ZIM has ${info.mute.all ? 'all' : `roles [${info.mute.roles.join(',')}]`}`]
    );
  } catch (err) {
    if (!(err instanceof ZimPermanentError)) throw err;
    findings.outcome.calls++;
    findings.add(ledgerKeys.verifyMute(groupId), [refusal(err)]);
  }
}

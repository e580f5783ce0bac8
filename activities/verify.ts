/**
 * One verify page: reads back from ZIM what the migration says it landed and compares. A page holds one kind:
 * owners (each conversation copy, QueryPeerMsg, every page, newest first), groups (history, QueryGroupMsg; members
 * with their roles and nicknames, QueryGroupMemberList) or users (verify-users.ts: profiles, friend lists,
 * blocklists); the stage's page numbers interleave the kinds (src/staging/verify-page-order.ts). Expected = what
 * the ledger records as done. Each check writes one ledger row under stage `verify`: `done` when ZIM agrees,
 * `failed` naming by source id what is lost, duplicated or unexpected. Reads are idempotent, so a retried page just
 * reads again.
 */
import type { ActualMessage } from '../src/verify/compare-conversation';
import { compareConversation, type ConversationCheck } from '../src/verify/compare-conversation';
import { compareIds, describeIds, listIds } from '../src/verify/compare-ids';
import { ZIM_ROLE, ZimPermanentError, type MessagePage } from '../src/zim-client';
import { ZIM_PAGE_LIMITS } from '../src/zim-client/limits';
import type { Outcome } from './contract';
import { ledgerKeys } from '../src/staging/ledger-keys';
import type { MigrationStore, StagedMessage } from '../src/staging/migration-store';
import { forEachConcurrently } from '../src/shared/for-each-concurrently';
import { Findings, readAll, refusal, VERIFY_CONCURRENCY, type VerifyDeps } from './verify-findings';
import { verifyUsers } from './verify-users';
import { verifyGroupMute } from './group-mute';

/** More than any group holds: verify reads a group's staged admins and nicknames at once. */
const ALL = Number.MAX_SAFE_INTEGER;
const { member: memberKey, role: roleKey, nickname: nicknameKey } = ledgerKeys;

function describe(check: ConversationCheck): string {
  const parts = [`expected ${check.expected}, found ${check.actual}`];
  if (check.missing.length) parts.push(`missing ${check.missing.length}: ${listIds(check.missing)}`);
  if (check.duplicated.length) parts.push(`duplicated ${check.duplicated.length}: ${listIds(check.duplicated)}`);
  if (check.unexpected) parts.push(`${check.unexpected} not from this migration`);
  if (check.outOfOrder) parts.push('order differs');
  return parts.join('; ');
}

const expectedOf = (messages: readonly StagedMessage[], landed: Set<string>) =>
  messages
    .filter((m) => landed.has(m.sourceId))
    .map((m) => ({ sourceId: m.sourceId, from: m.from, sentTime: m.sentTime, type: m.type, text: m.body.Message }));

async function landedOf(
  store: MigrationStore,
  stage: 'peer-messages' | 'group-messages',
  ownerOrGroup: string,
  messages: readonly StagedMessage[]
): Promise<Set<string>> {
  const key = (m: StagedMessage) => ledgerKeys.message(ownerOrGroup, m.sourceId);
  const ledger = await store.ledgerGet(stage, messages.map(key));
  return new Set(messages.filter((m) => ledger.get(key(m))?.status === 'done').map((m) => m.sourceId));
}

/**
 * A conversation copy or group history: a refusal is a finding only if something should be there. Messages newer
 * than the newest staged one (`staged`: every staged message of it, landed or not) are not the import's: it writes
 * each with its original time, so they are live traffic sent after the export (coexistence, docs/coexistence.md
 * §10, whose audit compares them), not compared here.
 */
function historyProblems(
  expected: ReturnType<typeof expectedOf>,
  staged: readonly StagedMessage[],
  pages: MessagePage[] | ZimPermanentError
): string[] {
  if (pages instanceof ZimPermanentError) return expected.length ? [refusal(pages)] : [];
  const newest = staged.reduce((t, m) => Math.max(t, m.sentTime), -Infinity);
  const actual: ActualMessage[] = pages.flatMap((p) =>
    p.messages.filter((m) => m.isEmpty === 0 && m.msgTime <= newest)
  );
  const check = compareConversation(expected, actual);
  return check.match ? [] : [describe(check)];
}

async function verifyOwner(deps: VerifyDeps, findings: Findings, owner: string): Promise<void> {
  const { store, zim } = deps;
  for (const [peer, messages] of await store.ownerConversations(owner)) {
    const pages = await readAll(deps, findings, 'QueryPeerMsg', (next) =>
      zim.queryPeerMsg({ FromUserId: owner, ToUserId: peer, Limit: ZIM_PAGE_LIMITS.QueryPeerMsg.max, Next: next })
    );
    findings.add(
      ledgerKeys.verifyConversation(owner, peer),
      historyProblems(expectedOf(messages, await landedOf(store, 'peer-messages', owner, messages)), messages, pages)
    );
  }
}

async function verifyGroup(deps: VerifyDeps, findings: Findings, groupId: string): Promise<void> {
  const { store, zim } = deps;
  const group = await store.group(groupId);
  if (!group) return;
  const messages = await store.groupMessages(groupId);
  const history = await readAll(deps, findings, 'QueryGroupMsg', (next) =>
    zim.queryGroupMsg({ GroupId: groupId, Limit: ZIM_PAGE_LIMITS.QueryGroupMsg.max, Next: next })
  );
  findings.add(
    ledgerKeys.verifyGroupHistory(groupId),
    historyProblems(expectedOf(messages, await landedOf(store, 'group-messages', groupId, messages)), messages, history)
  );
  if (group.muted) await verifyGroupMute(deps, findings, groupId, group.owner);

  // Members: everyone the ledger says joined and nobody else; each admin and nickname the ledger says was set.
  const staged = [group.owner, ...(await store.groupMembers(groupId, 0, group.memberCount)).map((m) => m.user)];
  const admins = (await store.groupAdmins(groupId, 0, ALL)).map((m) => m.user);
  const nicknames = (await store.groupNicknames(groupId, 0, ALL)).map((m) => ({
    userId: m.user,
    nickname: m.nickname,
  }));
  const ledger = await store.ledgerGet('groups', [
    ...staged.map((u) => memberKey(groupId, u)),
    ...admins.map((u) => roleKey(groupId, u)),
    ...nicknames.map((n) => nicknameKey(groupId, n.userId)),
  ]);
  const landed = (key: string) => ledger.get(key)?.status === 'done';
  const joined = staged.filter((u) => landed(memberKey(groupId, u)));
  const memberPages = await readAll(deps, findings, 'QueryGroupMemberList', (next) =>
    zim.queryGroupMemberList({ GroupId: groupId, Limit: ZIM_PAGE_LIMITS.QueryGroupMemberList.max, Next: next })
  );
  if (memberPages instanceof ZimPermanentError) {
    findings.add(ledgerKeys.verifyMembers(groupId), joined.length ? [refusal(memberPages)] : []);
    return;
  }
  const listed = new Map(memberPages.flatMap((p) => p.members.map((m) => [m.userId, m] as const)));
  const problems = describeIds(compareIds(joined, listed.keys())).map((p) => `members ${p}`);

  // Roles: the owner is the owner, the admins restored are admins, nobody else is an admin.
  const stagedAdmins = new Set(admins);
  const roleDiffers = [...listed.values()]
    .filter((m) => {
      if (m.userId === group.owner) return m.role !== ZIM_ROLE.owner;
      if (landed(roleKey(groupId, m.userId))) return m.role !== ZIM_ROLE.admin;
      return m.role === ZIM_ROLE.admin && !stagedAdmins.has(m.userId);
    })
    .map((m) => m.userId);
  if (roleDiffers.length) problems.push(`roles differ ${roleDiffers.length}: ${listIds(roleDiffers)}`);

  // Nicknames: each one set is ZIM's, and members without a staged nickname have none.
  const stagedNicknames = new Map(nicknames.map((n) => [n.userId, n.nickname]));
  const nicknameDiffers = [...listed.values()]
    .filter((m) => {
      const staged = stagedNicknames.get(m.userId);
      if (staged === undefined) return m.userNickName !== '';
      return landed(nicknameKey(groupId, m.userId)) && m.userNickName !== staged;
    })
    .map((m) => m.userId);
  if (nicknameDiffers.length) problems.push(`nicknames differ ${nicknameDiffers.length}: ${listIds(nicknameDiffers)}`);
  findings.add(ledgerKeys.verifyMembers(groupId), problems);
}

export async function verifyPage(deps: VerifyDeps, page: number): Promise<Outcome> {
  const findings = new Findings();
  const { owners, groups, users } = await deps.store.verifyPage(page);
  // Owners, groups and users read with different Actions (different budgets), so they go side by side, several
  // at a time each: verify is the last stage, and one read after another left its budgets mostly idle.
  await Promise.all([
    forEachConcurrently(owners, VERIFY_CONCURRENCY, (owner) => verifyOwner(deps, findings, owner)),
    forEachConcurrently(groups, VERIFY_CONCURRENCY, (groupId) => verifyGroup(deps, findings, groupId)),
    users.length ? verifyUsers(deps, findings, users) : undefined,
  ]);
  await deps.store.ledgerPut('verify', findings.rows);
  return findings.outcome;
}

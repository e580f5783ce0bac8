/**
 * One verify page: reads back from ZIM what the migration says it landed and compares. Per owner, each conversation
 * copy (QueryPeerMsg, every page, newest first); per group, its history (QueryGroupMsg) and its members
 * (QueryGroupMemberList). Expected = what the ledger records as done. Each finding goes to the ledger under stage
 * `verify`, naming the source ids lost or duplicated. Reads are idempotent, so a retried page just reads again.
 */
import type { CallScheduler } from '../src/rate-limit/call-scheduler';
import type { ActualMessage } from '../src/verify/compare-conversation';
import { compareConversation, type ConversationCheck } from '../src/verify/compare-conversation';
import type { ZimClient } from '../src/zim-client';
import type { Outcome } from './contract';
import type { LedgerRow, MigrationData, StagedImportMessage } from './migration-data';
import { readAllPages } from './scheduled-call';

export interface VerifyDeps {
  data: MigrationData;
  zim: ZimClient;
  scheduler: CallScheduler;
}

const PAGE = 100;
const LIST_LIMIT = 20;

function describe(check: ConversationCheck): string {
  const parts = [`expected ${check.expected}, found ${check.actual}`];
  const list = (ids: string[]) => ids.slice(0, LIST_LIMIT).join(',') + (ids.length > LIST_LIMIT ? ',…' : '');
  if (check.missing.length) parts.push(`missing ${check.missing.length}: ${list(check.missing)}`);
  if (check.duplicated.length) parts.push(`duplicated ${check.duplicated.length}: ${list(check.duplicated)}`);
  if (check.unexpected) parts.push(`${check.unexpected} not from this migration`);
  if (check.outOfOrder) parts.push('order differs');
  return parts.join('; ');
}

const expectedOf = (messages: StagedImportMessage[], landed: Set<string>) =>
  messages
    .filter((m) => landed.has(m.sourceId))
    .map((m) => ({ sourceId: m.sourceId, from: m.from, sentTime: m.sentTime, type: m.type, text: m.body.Message }));

export async function verifyPage(deps: VerifyDeps, page: number): Promise<Outcome> {
  const { data, zim, scheduler } = deps;
  const outcome: Outcome = { done: 0, failed: 0, skipped: 0, calls: 0 };
  const rows: LedgerRow[] = [];
  const record = (key: string, check: ConversationCheck) => {
    if (check.match) outcome.done++;
    else outcome.failed++;
    rows.push({
      key,
      status: check.match ? 'done' : 'failed',
      sourceId: key,
      ...(!check.match && { zimMessage: describe(check) }),
    });
  };
  const landedOf = async (
    stage: 'peer-messages' | 'group-messages',
    owner: string,
    messages: StagedImportMessage[]
  ) => {
    const ledger = await data.ledgerGet(
      stage,
      messages.map((m) => `${owner}/${m.sourceId}`)
    );
    return new Set(
      messages.filter((m) => ledger.get(`${owner}/${m.sourceId}`)?.status === 'done').map((m) => m.sourceId)
    );
  };

  const { owners, groups } = await data.verifyPage(page);
  for (const owner of owners) {
    for (const [peer, messages] of await data.ownerConversations(owner)) {
      const pages = await readAllPages(scheduler, 'QueryPeerMsg', (next) =>
        zim.queryPeerMsg({ FromUserId: owner, ToUserId: peer, Limit: PAGE, Next: next })
      );
      outcome.calls += pages.length;
      const actual: ActualMessage[] = pages.flatMap((p) => p.messages.filter((m) => m.isEmpty === 0));
      record(
        `peer/${owner}/${peer}`,
        compareConversation(expectedOf(messages, await landedOf('peer-messages', owner, messages)), actual)
      );
    }
  }

  for (const groupId of groups) {
    const group = await data.group(groupId);
    if (!group) continue;
    const messages = await data.groupMessages(groupId);
    const pages = await readAllPages(scheduler, 'QueryGroupMsg', (next) =>
      zim.queryGroupMsg({ GroupId: groupId, Limit: PAGE, Next: next })
    );
    outcome.calls += pages.length;
    const actual: ActualMessage[] = pages.flatMap((p) => p.messages.filter((m) => m.isEmpty === 0));
    record(
      `group/${groupId}`,
      compareConversation(expectedOf(messages, await landedOf('group-messages', groupId, messages)), actual)
    );

    // Members: everyone the ledger says joined, and nobody else.
    const staged = [group.owner, ...(await data.groupMembers(groupId, 0, group.memberCount)).map((m) => m.userId)];
    const joined = await data.ledgerGet(
      'groups',
      staged.map((u) => `${groupId}/${u}`)
    );
    const expected = new Set(staged.filter((u) => joined.get(`${groupId}/${u}`)?.status === 'done'));
    const memberPages = await readAllPages(scheduler, 'QueryGroupMemberList', (next) =>
      zim.queryGroupMemberList({ GroupId: groupId, Limit: 1000, Next: next })
    );
    outcome.calls += memberPages.length;
    const present = new Set(memberPages.flatMap((p) => p.members.map((m) => m.userId)));
    const missing = [...expected].filter((u) => !present.has(u));
    const extra = [...present].filter((u) => !expected.has(u));
    const ok = missing.length === 0 && extra.length === 0;
    if (ok) outcome.done++;
    else outcome.failed++;
    rows.push({
      key: `members/${groupId}`,
      status: ok ? 'done' : 'failed',
      sourceId: groupId,
      ...(!ok && {
        zimMessage: `members missing: ${missing.join(',') || '-'}; not expected: ${extra.join(',') || '-'}`,
      }),
    });
  }
  await data.ledgerPut('verify', rows);
  return outcome;
}

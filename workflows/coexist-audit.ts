/**
 * One reconciliation audit (docs/coexistence.md §9): every conversation the sync knows, in pages of `pageSize`
 * in key order, each page one activity that reads both sides over the window, records what one side holds and the
 * other lacks, and hands each missing message back to its conversation's mirror path. Continues as new every
 * `pagesPerRun` pages with its place (the last conversation audited) and its tally, so a sync of any size keeps a
 * bounded history. The window is given (the caller computed it from its own, deterministic, clock).
 */
import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { AuditActivities, AuditTally } from '../activities/coexist-audit';

export interface CoexistAuditInput {
  /** Origin messages with times in [from, until] are audited (ms). */
  from: number;
  until: number;
  /** The sync whose conversations are audited (also found by their workflows' ZimCoexistSync). */
  syncName?: string;
  /** The sync's historical-import staging (`coexist start --handoff`): see AuditPageInput.handoff. */
  handoff?: string;
  /** Conversations per activity (default 10). */
  pageSize?: number;
  /** Pages per run before continue-as-new (default 50). */
  pagesPerRun?: number;
  // Carried across continue-as-new:
  after?: string;
  tally?: AuditTally;
}

export interface CoexistAuditResult extends AuditTally {
  from: number;
  until: number;
}

const { listAuditConversations, auditConversations } = proxyActivities<AuditActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
});

export async function coexistAuditWorkflow(input: CoexistAuditInput): Promise<CoexistAuditResult> {
  const pageSize = input.pageSize ?? 10;
  const pagesPerRun = input.pagesPerRun ?? 50;
  const tally: AuditTally = input.tally ?? { conversations: 0, found: 0, repaired: 0, gaps: 0, truncated: 0 };
  let after = input.after;
  for (let pages = 0; ; pages++) {
    if (pages >= pagesPerRun || workflowInfo().continueAsNewSuggested)
      return continueAsNew<typeof coexistAuditWorkflow>({ ...input, ...(after !== undefined ? { after } : {}), tally });
    const page = await listAuditConversations({
      limit: pageSize,
      ...(after !== undefined ? { after } : {}),
      ...(input.syncName !== undefined ? { syncName: input.syncName } : {}),
    });
    if (page.conversations.length > 0) {
      const t = await auditConversations({
        conversations: page.conversations,
        from: input.from,
        until: input.until,
        ...(input.syncName !== undefined ? { syncName: input.syncName } : {}),
        ...(input.handoff !== undefined ? { handoff: input.handoff } : {}),
      });
      // By the page's keys: a tally carried from an older run may lack a newer one (waiting).
      for (const k of Object.keys(t) as (keyof AuditTally)[]) tally[k] = (tally[k] ?? 0) + (t[k] ?? 0);
      after = page.conversations.at(-1);
    }
    if (!page.more) return { ...tally, from: input.from, until: input.until };
  }
}

/** What every verify check shares: its dependencies, the page's findings, and reads that may be refused for good. */
import type { CallScheduler } from '../src/rate-limit/call-scheduler';
import { ZimPermanentError, type ZimClient } from '../src/zim-client';
import type { Outcome } from './contract';
import type { LedgerWrite, MigrationStore } from '../src/staging/migration-store';
import { readAllPages } from './scheduled-call';

/** Owners, groups or users one verify page reads at once. */
export const VERIFY_CONCURRENCY = 8;

export interface VerifyDeps {
  store: MigrationStore;
  zim: ZimClient;
  scheduler: CallScheduler;
}

/** One page's findings: one ledger row per check, and the page's outcome. */
export class Findings {
  readonly outcome: Outcome = { done: 0, failed: 0, skipped: 0, calls: 0 };
  readonly rows: LedgerWrite[] = [];

  /** A check with no problems is `done`; otherwise `failed`, its problems joined as the ledger's message. */
  add(key: string, problems: readonly string[]): void {
    const ok = problems.length === 0;
    if (ok) this.outcome.done++;
    else this.outcome.failed++;
    this.rows.push({ key, status: ok ? 'done' : 'failed', ...(!ok && { zimMessage: problems.join('; ') }) });
  }
}

/**
 * Every page of a query, or ZIM's permanent refusal (e.g. "group does not exist" when its creation failed): the
 * caller decides whether that refusal is a finding. Transient trouble throws, and the page is retried.
 */
export async function readAll<P extends { next: string }>(
  deps: VerifyDeps,
  findings: Findings,
  action: string,
  readPage: (next: string) => Promise<P>
): Promise<P[] | ZimPermanentError> {
  try {
    const pages = await readAllPages(deps.scheduler, action, readPage);
    findings.outcome.calls += pages.length;
    return pages;
  } catch (err) {
    if (!(err instanceof ZimPermanentError)) throw err;
    findings.outcome.calls++;
    return err;
  }
}

export const refusal = (err: ZimPermanentError) => `${err.action} refused: ${err.code} ${err.zimMessage}`.trim();

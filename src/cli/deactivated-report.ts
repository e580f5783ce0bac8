/**
 * The migration report's per-user outcome for deactivated users. ZIM has no API to deactivate, delete or
 * deregister a user (zim-api.md §6.20), so a user exported with `"deactivated": true` is registered (their profile
 * too), so that the people they talked to keep those conversations and group history keeps its sender, but owns
 * nothing: no copy of one-to-one history, no friendships or blocks, no group membership except as a group's owner.
 * Keeping them from logging in is the app's job (its token server): the report lists each one with what landed.
 */
import { ledgerKeys } from '../staging/ledger-keys';
import type { LedgerStatus, MigrationStore } from '../staging/migration-store';

export const DEACTIVATED_NOTE =
  'ZIM has no API to deactivate a user: each is registered (profile included) so that others keep their ' +
  'history, but owns no one-to-one copies, friendships, blocks or memberships (but as a group owner). Do not issue ' +
  'them ZIM login tokens.';

export interface DeactivatedUserOutcome {
  user: string;
  /** The accounts stage's ledger status for this user (UserRegister); `not-run` before that stage ran. */
  registered: LedgerStatus | 'not-run';
  zimCode?: number;
  zimMessage?: string;
}

/** Every deactivated user in id order with their registration's outcome. Reads the users once, by pages. */
export async function deactivatedUserOutcomes(store: MigrationStore): Promise<DeactivatedUserOutcome[]> {
  const out: DeactivatedUserOutcome[] = [];
  for (let after: string | null = null; ;) {
    const users = await store.readUsers(after, 1000);
    const deactivated = users.filter((u) => u.deactivated).map((u) => u.id);
    if (deactivated.length) {
      const keys = deactivated.map((u) => ledgerKeys.user(u));
      const ledger = await store.ledgerGet('accounts', keys);
      for (const user of deactivated) {
        const entry = ledger.get(ledgerKeys.user(user));
        out.push({
          user,
          registered: entry?.status ?? 'not-run',
          ...(entry?.zimCode != null && { zimCode: entry.zimCode }),
          ...(entry?.zimMessage && { zimMessage: entry.zimMessage }),
        });
      }
    }
    if (users.length < 1000) break;
    after = users[users.length - 1]!.id;
  }
  return out;
}

/** The report's text section (at most `limit` users listed; all of them are in --json). */
export function renderDeactivated(users: readonly DeactivatedUserOutcome[], limit: number): string[] {
  if (users.length === 0) return [];
  const registered = users.filter((u) => u.registered === 'done').length;
  const lines = [
    '',
    `Deactivated users: ${users.length} (${registered} registered in ZIM). ${DEACTIVATED_NOTE}`,
    ...users
      .slice(0, limit)
      .map(
        (u) => `  ${u.user}  ${u.registered}${u.zimCode !== undefined ? ` ${u.zimCode}` : ''} ${u.zimMessage ?? ''}`
      ),
  ];
  if (users.length > limit) lines.push(`  … ${users.length - limit} more (all with --json)`);
  return lines;
}

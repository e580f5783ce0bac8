/**
 * The keys the coexistence store lists (conversations(), users()), kept in two small tables as rows are written,
 * so an audit pages through them by index at the cost of its page (issue #14) instead of deriving them from every
 * row per page. Both engines use these helpers; what counts as known is unchanged (coexist-store.ts).
 */
import { parseConversation } from './audit';

/** The users a conversation key names: both users of a one-to-one conversation, none for a group's. */
export function usersOf(conv: string): string[] {
  const c = parseConversation(conv);
  return c?.kind === 'peer' ? [...new Set(c.users)] : [];
}

/** Key-table rows are never removed, so a key this process wrote once need not be written again. */
const WRITTEN_LIMIT = 100_000;

/**
 * The keys this process has written (bounded: cleared when full, which only costs a repeated no-op write). A
 * conversation's messages then cost no key-table write after its first.
 */
export class WrittenKeys {
  private readonly keys = new Set<string>();
  has(key: string): boolean {
    return this.keys.has(key);
  }
  add(key: string): void {
    if (this.keys.size >= WRITTEN_LIMIT) this.keys.clear();
    this.keys.add(key);
  }
}

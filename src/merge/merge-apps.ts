/**
 * Merging several exports into one ZIM app (seed 000, "Import data from multiple apps").
 *
 * Precedence: apps are ranked by --prefer, then by their order on the command line; rank 0 wins.
 * - A user in several apps is one user. Each profile field (nickname, avatarUrl, extendedData) comes from
 *   the best-ranked app where it is not empty; createdAt is the earliest; the user is deactivated only if
 *   every app says so (an account active anywhere stays usable).
 * - A friendship or block in several apps is imported once (ZIM fails a repeat): alias, wording and
 *   attributes from the best-ranked app that has them, since = the earliest.
 * - One-to-one messages of the same pair merge into one conversation. The same message exported by two
 *   apps (same from, to, sentAt, type, body and extendedData, whatever its id) is kept once, from the best-ranked app; a participant who
 *   deleted either copy has it deleted (a deletion never comes back through a merge).
 * - Groups never merge: the same group id in two apps is an error unless --group-id-prefix separates them.
 *
 * The merge itself is SQL over the staging tables: src/staging/sqlite/merged-records.ts.
 */
import { UsageError } from '../shared/usage-error';

export interface MergeOptions {
  /** App names, best first; apps not named follow in command-line order. */
  prefer: readonly string[];
  /** Per app name: a prefix for its group ids (the ZIM group id becomes prefix + id). */
  groupIdPrefix: Readonly<Record<string, string>>;
  /** Per app name: a prefix for its message source ids. */
  messageIdPrefix: Readonly<Record<string, string>>;
}

/** App names in precedence order; throws for a --prefer name that is not one of the apps. */
export function rankApps(apps: readonly string[], prefer: readonly string[]): string[] {
  for (const name of prefer)
    if (!apps.includes(name))
      throw new UsageError(`--prefer names ${name}, which is not one of the apps (${apps.join(', ')})`);
  return [...prefer, ...apps.filter((a) => !prefer.includes(a))];
}

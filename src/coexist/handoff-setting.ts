/**
 * The historical-import handoff of a sync (`coexist start --handoff <staging>`, docs/coexistence.md §10): where the
 * migration's staging ledger is, so conversation workflows hold their live legacy messages until their history is
 * imported. The setting travels in the sync workflow's memo and in each conversation's input, so it holds a
 * location only: a file path, or a postgres:// URL without its password (the worker reads that from its
 * environment, as the migration's workers do).
 */
import { z } from 'zod';
import { isDatabaseUrl, redactUrl } from '../postgres/database-settings';
import { stagingLocation } from '../staging';

/** Live legacy messages one conversation holds before it parks the next ones (they would grow its history). */
export const DEFAULT_HOLD_LIMIT = 1_000;
/** How often a conversation holding messages asks the staging ledger whether its history is imported (ms). */
export const DEFAULT_CHECK_EVERY_MS = 30_000;

const hasPassword = (s: string) => {
  try {
    return new URL(s).password !== '';
  } catch {
    return false;
  }
};

export const HandoffSettingSchema = z.object({
  /** The migration's staging: the same location `plan --out` and `start` take. */
  staging: z
    .string()
    .min(1)
    .refine((s) => !(isDatabaseUrl(s) && hasPassword(s)), {
      message:
        'the URL holds a password, which would be stored in workflow input: pass it without, and give the ' +
        'workers ZIM_MIGRATE_DATABASE_PASSWORD or ZIM_MIGRATE_DATABASE_PASSWORD_FILE',
    }),
  checkEveryMs: z.number().int().min(100).max(3_600_000).default(DEFAULT_CHECK_EVERY_MS),
  holdLimit: z.number().int().min(1).max(10_000).default(DEFAULT_HOLD_LIMIT),
});
export type HandoffSetting = z.output<typeof HandoffSettingSchema>;

export class HandoffSettingError extends Error {
  override name = 'HandoffSettingError';
}

/** The setting for a location given on the command line (a file path made absolute); throws HandoffSettingError. */
export function handoffSetting(given: string, more: Partial<Omit<HandoffSetting, 'staging'>> = {}): HandoffSetting {
  const r = HandoffSettingSchema.safeParse({ staging: stagingLocation(given.trim()), ...more });
  if (!r.success) {
    const shown = isDatabaseUrl(given) ? redactUrl(given) : given;
    throw new HandoffSettingError(`--handoff ${shown}: ${r.error.issues.map((i) => i.message).join('; ')}`);
  }
  return r.data;
}

/**
 * The setting as found in a sync's memo: undefined when the sync has none. One that does not parse throws, so the
 * receiver answers 503 rather than start conversations that would mirror what the import will also write.
 */
export function handoffFromMemo(memo: Record<string, unknown> | undefined): HandoffSetting | undefined {
  const raw = memo?.['handoff'];
  if (raw === undefined || raw === null) return undefined;
  const r = HandoffSettingSchema.safeParse(raw);
  if (!r.success) throw new HandoffSettingError(`the sync's handoff memo does not parse: ${r.error.message}`);
  return r.data;
}

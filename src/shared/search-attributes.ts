/**
 * Custom search attributes the product writes, so that an operator finds a migration and its children in the
 * Temporal UI or with `temporal workflow list --query 'ZimMigrationId="m1"'`. Imported by workflow code too,
 * so this file must stay free of Node APIs. Values are stored unencrypted: ids and stage names only, never PII.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ZIM_MIGRATION_ID = defineSearchAttributeKey('ZimMigrationId', SearchAttributeType.KEYWORD);
export const ZIM_MIGRATION_STAGE = defineSearchAttributeKey('ZimMigrationStage', SearchAttributeType.KEYWORD);

/** The migration's status (running, paused, cancelling, cancelled, completed): Temporal's own says only Running. */
export const ZIM_MIGRATION_STATUS = defineSearchAttributeKey('ZimMigrationStatus', SearchAttributeType.KEYWORD);

/** Coexistence: the sync's name (`coexist start --name`), on the sync's workflow and on its conversations'. */
export const ZIM_COEXIST_SYNC = defineSearchAttributeKey('ZimCoexistSync', SearchAttributeType.KEYWORD);
/** The sync's state (running, draining, stopped), which receivers read to refuse events once it is stopping. */
export const ZIM_COEXIST_STATUS = defineSearchAttributeKey('ZimCoexistStatus', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [
  ZIM_MIGRATION_ID,
  ZIM_MIGRATION_STAGE,
  ZIM_MIGRATION_STATUS,
  ZIM_COEXIST_SYNC,
  ZIM_COEXIST_STATUS,
] as const;

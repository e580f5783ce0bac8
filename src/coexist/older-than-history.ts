/**
 * Whether a held legacy message is older than the imported history's newest (its watermark): the import handoff drops
 * it as the history's own (docs/coexistence.md §10). One rule for the workflow, which drops it, and the activity,
 * which settles its body. Pure: the workflow bundle imports it.
 */
export const olderThanHistory = (at: number, watermark: number | null): boolean => watermark !== null && at < watermark;

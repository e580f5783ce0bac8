/** Every workflow the worker registers. Workflow code only: deterministic, no I/O (see eslint.config.mjs). */
export { preflightWorkflow } from './preflight';
export { migrationWorkflow } from './migration';
export { stageWorkflow } from './stage';
export { entitySequenceWorkflow } from './entity-sequence';
export { extractWorkflow } from './extract';
export { conversationSyncWorkflow } from './coexist';
export { coexistSyncWorkflow } from './coexist-sync';
export { coexistAuditWorkflow } from './coexist-audit';
export { roundWorkflow } from './round';

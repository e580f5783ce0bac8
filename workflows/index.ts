/** Every workflow the worker registers. Workflow code only: deterministic, no I/O (see eslint.config.mjs). */
export { preflightWorkflow } from './preflight';

/** Builds the activity implementations the worker registers, with their dependencies injected. */
import { preflight } from './preflight';

export function createActivities() {
  return { preflight };
}

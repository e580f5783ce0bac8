/** The staging store: import from here, not from an engine's module. */
import { SqliteStagingStore } from './sqlite/sqlite-store';
import type { OpenStagingOptions, StagingStore } from './store';

export type * from './store';

/** Opens a staging file written by `zim-migrate plan`. */
export function openStagingStore(file: string, options: OpenStagingOptions = {}): Promise<StagingStore> {
  return Promise.resolve().then(() => SqliteStagingStore.open(file, options));
}

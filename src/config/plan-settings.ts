/**
 * What `zim-migrate plan` times chains with: the time of one chain step (src/shared/chains.ts), from --step-ms,
 * ZIM_MIGRATE_STEP_MS or "stepMs" in the config file, else the one measured by `npm run bench:chain`. A machine
 * slower or faster than the one measured (or a ZIM farther away than the emulator) sets its own.
 */
import { DEFAULT_STEP_MS } from '../shared/chains';
import { resolveWithDefault, type Resolved, type SettingLayers } from './layered-settings';
import { settingSchemas } from './setting-schemas';

export function resolveStepMs(layers: SettingLayers): Resolved<number> {
  return resolveWithDefault(
    layers,
    { flag: '--step-ms', env: 'ZIM_MIGRATE_STEP_MS', fileKey: 'stepMs', schema: settingSchemas.stepMs },
    DEFAULT_STEP_MS
  );
}

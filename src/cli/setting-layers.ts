/** The setting layers of one CLI invocation: its flags (and the global --config), the environment, the config file. */
import type { Command } from 'commander';
import { loadConfigFile } from '../config/config-file';
import type { SettingLayers } from '../config/layered-settings';

export function settingLayers(
  command: Command,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd()
): SettingLayers {
  const flags = command.optsWithGlobals<Record<string, unknown>>();
  const configFlag = typeof flags.config === 'string' ? flags.config : undefined;
  return { flags, env, file: loadConfigFile(configFlag, env, cwd) };
}

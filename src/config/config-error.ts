import { UsageError } from '../shared/usage-error';

/**
 * A setting is missing or wrong (a flag, an environment variable, the config file). Like bad usage it exits with
 * code 2: nothing was attempted. Messages name the setting, where it came from and the fix, never a secret.
 */
export class ConfigError extends UsageError {
  override name = 'ConfigError';
}

/**
 * Coexistence's secrets come from a file (a flag, or `<NAME>_FILE`) or the environment (`<NAME>`), never from a
 * flag value or the config file, so they stay out of `ps`, shell history and the settings zim-migrate prints.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../shared/usage-error';

export function readSecret(name: string, file?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const path = file ?? env[`${name}_FILE`];
  if (path) {
    const value = readFileSync(path, 'utf8').trim();
    if (!value) throw new UsageError(`${path} (${name}) is empty`);
    return value;
  }
  return env[name] || undefined;
}

export function requireSecret(name: string, file?: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = readSecret(name, file, env);
  if (!value) throw new UsageError(`set ${name} or ${name}_FILE`);
  return value;
}

/**
 * How one setting is chosen: a command-line flag, else an environment variable, else the config file, else the
 * default. The winner is validated with the setting's schema, and an error names exactly where the bad value came
 * from, without repeating the value (a value in the wrong place may be a secret).
 */
import path from 'node:path';
import type { z } from 'zod';
import { isDatabaseUrl } from '../postgres/database-settings';
import { ConfigError } from './config-error';
import type { ConfigFileKey, LoadedConfigFile } from './config-file';

export type SettingSource =
  | { kind: 'flag'; name: string }
  | { kind: 'env'; name: string }
  | { kind: 'file'; name: ConfigFileKey; file: string }
  | { kind: 'default' };

export interface Resolved<T> {
  value: T;
  source: SettingSource;
}

/** Everything a setting can come from, in precedence order. */
export interface SettingLayers {
  /** Parsed command-line options, keyed as commander keys them (`--app-id` → `appId`). */
  flags: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
  file?: LoadedConfigFile;
}

export interface SettingSpec<T> {
  flag?: `--${string}`;
  env?: string;
  fileKey?: ConfigFileKey;
  schema: z.ZodType<T, unknown>;
  /** A path in the config file is relative to the file's directory; one from a flag or env, to the working dir. */
  isPath?: boolean;
  /** The setting names a file or a database: a postgres:// URL is kept as it is, not resolved as a path. */
  orDatabaseUrl?: boolean;
}

export function describeSource(source: SettingSource): string {
  switch (source.kind) {
    case 'flag':
      return source.name;
    case 'env':
      return source.name;
    case 'file':
      return `"${source.name}" in ${source.file}`;
    case 'default':
      return 'the default';
  }
}

const flagKey = (flag: string) => flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function validated<T>(spec: SettingSpec<T>, raw: unknown, source: SettingSource): Resolved<T> {
  const parsed = spec.schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      `${describeSource(source)} ${parsed.error.issues[0]?.message ?? 'is not valid'}` +
        (source.kind === 'file' ? '' : ` (set by ${source.kind === 'flag' ? 'a flag' : 'the environment'})`)
    );
  }
  let value = parsed.data;
  if (spec.isPath && typeof value === 'string' && !(spec.orDatabaseUrl && isDatabaseUrl(value)))
    value = path.resolve(source.kind === 'file' ? path.dirname(source.file) : '.', value) as T;
  return { value, source };
}

/** The winning value of one setting, validated; undefined when no layer sets it. */
export function resolveSetting<T>(layers: SettingLayers, spec: SettingSpec<T>): Resolved<T> | undefined {
  if (spec.flag) {
    const raw = layers.flags[flagKey(spec.flag)];
    if (raw !== undefined) return validated(spec, raw, { kind: 'flag', name: spec.flag });
  }
  if (spec.env) {
    // An empty variable counts as unset: compose files and CI templates often pass VAR= for "not set".
    const raw = layers.env[spec.env];
    if (raw !== undefined && raw !== '') return validated(spec, raw, { kind: 'env', name: spec.env });
  }
  if (spec.fileKey && layers.file) {
    const raw = layers.file.values[spec.fileKey];
    if (raw !== undefined) return validated(spec, raw, { kind: 'file', name: spec.fileKey, file: layers.file.path });
  }
  return undefined;
}

export function resolveWithDefault<T>(layers: SettingLayers, spec: SettingSpec<T>, fallback: T): Resolved<T> {
  return resolveSetting(layers, spec) ?? { value: fallback, source: { kind: 'default' } };
}

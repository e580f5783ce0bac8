/**
 * The optional config file: one JSON object of non-secret settings, so that a team can commit how it runs a
 * migration (AppID, ZIM host, task queue, budgets) without committing the ServerSecret. Found through `--config`,
 * then ZIM_MIGRATE_CONFIG, then ./zim-migrate.config.json if it exists. Validated with zod; every error names the
 * file, the key and the fix, and never repeats a value that could be a secret.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './config-error';
import { settingSchemas } from './setting-schemas';

const CONFIG_FILE_ENV = 'ZIM_MIGRATE_CONFIG';
const DEFAULT_CONFIG_FILE = 'zim-migrate.config.json';

export type ConfigFileVia = '--config' | typeof CONFIG_FILE_ENV | 'default';

export interface ConfigFileChoice {
  path: string;
  /** How the file was chosen: an explicit choice must exist, the default one may be absent. */
  via: ConfigFileVia;
}

/** Which config file applies, if any: `--config`, then ZIM_MIGRATE_CONFIG, then the default name in `cwd`. */
export function chooseConfigFile(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string) {
  if (flag) return { path: path.resolve(cwd, flag), via: '--config' } satisfies ConfigFileChoice;
  const fromEnv = env[CONFIG_FILE_ENV];
  if (fromEnv) return { path: path.resolve(cwd, fromEnv), via: CONFIG_FILE_ENV } satisfies ConfigFileChoice;
  const fallback = path.join(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(fallback) ? ({ path: fallback, via: 'default' } satisfies ConfigFileChoice) : undefined;
}

/** Every key a config file may hold. Paths in it are relative to the file's own directory. */
const configFileSchema = z.strictObject({
  appId: settingSchemas.appId.optional(),
  baseUrl: settingSchemas.baseUrl.optional(),
  serverSecretFile: settingSchemas.path.optional(),
  budgetDb: settingSchemas.path.optional(),
  budgetHeadroomPercent: settingSchemas.budgetHeadroomPercent.optional(),
  zimTimeoutMs: settingSchemas.zimTimeoutMs.optional(),
  workflowHeapMb: settingSchemas.workflowHeapMb.optional(),
  taskQueue: settingSchemas.taskQueue.optional(),
  temporalProfile: settingSchemas.temporalProfile.optional(),
  temporalUiUrl: settingSchemas.url.optional(),
  errorBudgetPercent: settingSchemas.errorBudgetPercent.optional(),
  budgets: settingSchemas.budgets.optional(),
  stepMs: settingSchemas.stepMs.optional(),
});

export type ConfigFileValues = z.infer<typeof configFileSchema>;
export type ConfigFileKey = keyof ConfigFileValues;
export const CONFIG_FILE_KEYS = Object.keys(configFileSchema.shape) as ConfigFileKey[];

export interface LoadedConfigFile extends ConfigFileChoice {
  values: ConfigFileValues;
}

const SECRET_FIX =
  "Remove it, and either export ZIM_SERVER_SECRET in the worker's environment or write the secret to a file only " +
  'the worker can read (chmod 600) and set "serverSecretFile": "<path to that file>" (or ZIM_SERVER_SECRET_FILE).';

const TEMPORAL_FIX =
  "Temporal connection settings keep the Temporal CLI's conventions: set TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, " +
  'TEMPORAL_API_KEY, TEMPORAL_TLS_* in the environment, or put them in a profile of temporal.toml ' +
  '("temporal config set --profile NAME --prop address --value HOST:7233") and name it here with "temporalProfile".';

/** Keys that would put a secret in the file, refused before anything else is checked. */
function secretKeyProblem(key: string): string | undefined {
  if (key === 'serverSecretFile') return undefined;
  if (/secret/i.test(key))
    return `"${key}" would keep the ZIM ServerSecret in plain text in a file that is easily committed, copied or shared, so zim-migrate refuses it. ${SECRET_FIX}`;
  if (/api.?key|password|token|tls.?key|client.?key/i.test(key))
    return `"${key}" would keep a credential in plain text in this file, so zim-migrate refuses it. ${TEMPORAL_FIX}`;
  return undefined;
}

function unknownKeyProblem(key: string): string {
  if (/^(temporal)?(address|namespace|host|port|tls.*|grpc.*|codec.*)$/i.test(key))
    return `"${key}" is not read from this file. ${TEMPORAL_FIX}`;
  const near = CONFIG_FILE_KEYS.find((k) => k.toLowerCase() === key.toLowerCase() || editDistance(k, key) <= 2);
  return (
    `unknown setting "${key}"${near ? ` (did you mean "${near}"?)` : ''}; ` +
    `a config file holds only: ${CONFIG_FILE_KEYS.join(', ')} (see docs/configuration.md).`
  );
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/**
 * Where JSON.parse stopped, as line and column. V8's own message quotes the text around the error, which could be a
 * secret someone pasted in, so only the position is reported.
 */
function jsonErrorPosition(text: string, err: unknown): string {
  const match = /position (\d+)/.exec(err instanceof Error ? err.message : '');
  if (!match) return 'it ends early or is empty';
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  return `near line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
}

function readConfigFile(choice: ConfigFileChoice): LoadedConfigFile {
  const where = `config file ${choice.path}${choice.via === 'default' ? '' : ` (from ${choice.via})`}`;
  let text: string;
  try {
    text = readFileSync(choice.path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(
      `${where}: cannot read it (${code}). Fix the path, or drop ${choice.via === '--config' ? '--config' : `${CONFIG_FILE_ENV}`} to run without a config file.`
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(
      `${where}: not valid JSON (${jsonErrorPosition(text, err)}). It must be one JSON object, e.g. ` +
        '{"appId": 1234567890, "serverSecretFile": "./zim_server_secret"}.'
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError(`${where}: must be a JSON object of settings, e.g. {"appId": 1234567890}.`);

  const problems = Object.keys(raw).flatMap((key) => secretKeyProblem(key) ?? []);
  if (problems.length) throw new ConfigError(problems.map((p) => `${where}: ${p}`).join('\n'));

  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.flatMap((issue) =>
      issue.code !== 'unrecognized_keys'
        ? [`${where}: "${issue.path.join('.')}" ${issue.message}`]
        : issue.path.length === 0
          ? issue.keys.map((key) => `${where}: ${unknownKeyProblem(key)}`)
          : [`${where}: "${issue.path.join('.')}" has unknown key(s) ${issue.keys.join(', ')}; it ${issue.message}`]
    );
    throw new ConfigError(lines.join('\n'));
  }
  return { ...choice, values: parsed.data };
}

/** The config file that applies (see {@link chooseConfigFile}), read and validated; undefined when there is none. */
export function loadConfigFile(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd = process.cwd()
): LoadedConfigFile | undefined {
  const choice = chooseConfigFile(flag, env, cwd);
  return choice && readConfigFile(choice);
}

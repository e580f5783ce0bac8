/**
 * Where and as whom the product calls ZIM: flags, then environment, then the config file (src/config/config-file.ts),
 * validated at the boundary. The ServerSecret comes only from the environment or a file holding it, and is kept out
 * of every message this module produces.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { isDatabaseUrl } from '../postgres/database-settings';
import { ConfigError } from './config-error';
import {
  describeSource,
  resolveSetting,
  resolveWithDefault,
  type SettingLayers,
  type SettingSource,
} from './layered-settings';
import { settingSchemas } from './setting-schemas';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../zim-client/client';
import { DEFAULT_WORKFLOW_HEAP_MB } from '../worker/workflow-memory';

export { ConfigError } from './config-error';

export interface ZimConfig {
  appId: number;
  serverSecret: string;
  baseUrl: string;
  /**
   * The shared call schedule (src/rate-limit): a SQLite file every worker on this machine that calls this app uses,
   * or a postgres:// URL (its password from the environment) shared by workers on every machine.
   */
  budgetDbPath: string;
  /** Percentage of each budget the call schedule leaves unused, against jitter (default DEFAULT_BUDGET_HEADROOM). */
  budgetHeadroomPercent?: number;
  /**
   * How long one ZIM call may take (the client's request timeout, default DEFAULT_REQUEST_TIMEOUT_MS). A worker that
   * dies mid-import holds that message's conversation for 3 times this (its call lease, activities/message-import.ts).
   */
  zimTimeoutMs?: number;
  /** The worker's workflow thread's V8 heap in MB (default DEFAULT_WORKFLOW_HEAP_MB, src/worker/workflow-memory.ts). */
  workflowHeapMb?: number;
}

const DEFAULT_ZIM_BASE_URL = 'https://zim-api.zego.im';
export const DEFAULT_BUDGET_HEADROOM_PERCENT = 2;
export const defaultBudgetDbPath = () => path.join(homedir(), '.zim-migrate', 'call-budgets.sqlite');

export const ZIM_SETTING_SPECS = {
  appId: { flag: '--app-id', env: 'ZIM_APP_ID', fileKey: 'appId', schema: settingSchemas.appId },
  baseUrl: { flag: '--base-url', env: 'ZIM_BASE_URL', fileKey: 'baseUrl', schema: settingSchemas.baseUrl },
  budgetDb: {
    flag: '--budget-db',
    env: 'ZIM_MIGRATE_BUDGET_DB',
    fileKey: 'budgetDb',
    schema: settingSchemas.path,
    isPath: true,
    orDatabaseUrl: true,
  },
  budgetHeadroom: {
    flag: '--budget-headroom',
    env: 'ZIM_MIGRATE_BUDGET_HEADROOM',
    fileKey: 'budgetHeadroomPercent',
    schema: settingSchemas.budgetHeadroomPercent,
  },
  zimTimeout: {
    flag: '--zim-timeout-ms',
    env: 'ZIM_MIGRATE_ZIM_TIMEOUT_MS',
    fileKey: 'zimTimeoutMs',
    schema: settingSchemas.zimTimeoutMs,
  },
  workflowHeap: {
    flag: '--workflow-heap-mb',
    env: 'ZIM_MIGRATE_WORKFLOW_HEAP_MB',
    fileKey: 'workflowHeapMb',
    schema: settingSchemas.workflowHeapMb,
  },
} as const;

/** Where the ServerSecret comes from, in precedence order; the config file may only name a file. */
const SECRET_SPECS = [
  { flag: '--server-secret-file', schema: settingSchemas.path, isPath: true, isFile: true },
  { env: 'ZIM_SERVER_SECRET', schema: z.string(), isFile: false },
  { env: 'ZIM_SERVER_SECRET_FILE', schema: settingSchemas.path, isPath: true, isFile: true },
  { fileKey: 'serverSecretFile', schema: settingSchemas.path, isPath: true, isFile: true },
] as const;

const SECRET_SHAPE = /^[0-9a-zA-Z]{32}$/;
const NO_SECRET =
  'No ZIM ServerSecret: set ZIM_SERVER_SECRET, or ZIM_SERVER_SECRET_FILE=<path to a file holding it> ' +
  '(or "serverSecretFile" in the config file, or --server-secret-file).';

export interface ZimSettings {
  /** Every setting resolved, defaults included. */
  config: Required<ZimConfig>;
  /** Where each value came from, for `zim-migrate config` and the worker's start-up line; never the secret. */
  sources: Record<
    'appId' | 'baseUrl' | 'serverSecret' | 'budgetDb' | 'budgetHeadroom' | 'zimTimeout' | 'workflowHeap',
    SettingSource
  >;
}

/** A secret file's name is printable, unless someone put the secret itself where the path belongs. */
function secretFileLabel(source: SettingSource, file: string): string {
  return SECRET_SHAPE.test(path.basename(file))
    ? `${describeSource(source)} (its value looks like the secret itself, not a path to a file holding it)`
    : `${describeSource(source)} (${file})`;
}

function readServerSecret(layers: SettingLayers): { secret: string; source: SettingSource } {
  for (const spec of SECRET_SPECS) {
    const found = resolveSetting(layers, spec);
    if (!found) continue;
    if (!spec.isFile) return checkedSecret(found.value.trim(), found.source, describeSource(found.source));
    const label = secretFileLabel(found.source, found.value);
    let text: string;
    try {
      text = readFileSync(found.value, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `Cannot read the ZIM ServerSecret file named by ${label}: ${(err as NodeJS.ErrnoException).code ?? 'error'}. ` +
          'Point it at a file that holds only the 32-character secret, readable by this user.'
      );
    }
    return checkedSecret(text.trim(), found.source, label);
  }
  throw new ConfigError(NO_SECRET);
}

function checkedSecret(secret: string, source: SettingSource, label: string) {
  if (!SECRET_SHAPE.test(secret))
    throw new ConfigError(
      `The ZIM ServerSecret from ${label} must be the 32-character string from the ZEGO console (letters and digits).`
    );
  return { secret, source };
}

/** ZIM settings from flags > env > config file > defaults; throws ConfigError naming the setting and the fix. */
export function resolveZimSettings(layers: SettingLayers): ZimSettings {
  const appId = resolveSetting(layers, ZIM_SETTING_SPECS.appId);
  if (!appId)
    throw new ConfigError(
      'ZIM_APP_ID is not set: export ZIM_APP_ID=<your AppID from the ZEGO console> ' +
        '(or "appId" in the config file, or --app-id).'
    );
  const baseUrl = resolveWithDefault(layers, ZIM_SETTING_SPECS.baseUrl, DEFAULT_ZIM_BASE_URL);
  const budgetDb = resolveWithDefault(layers, ZIM_SETTING_SPECS.budgetDb, defaultBudgetDbPath());
  if (budgetDb.source.kind === 'file' && isDatabaseUrl(budgetDb.value) && URL.canParse(budgetDb.value)) {
    if (new URL(budgetDb.value).password)
      throw new ConfigError(
        `${describeSource(budgetDb.source)} holds a database password: the config file may not hold secrets. Remove ` +
          'it from the URL and set ZIM_MIGRATE_DATABASE_PASSWORD or ZIM_MIGRATE_DATABASE_PASSWORD_FILE.'
      );
  }
  const headroom = resolveWithDefault(layers, ZIM_SETTING_SPECS.budgetHeadroom, DEFAULT_BUDGET_HEADROOM_PERCENT);
  const zimTimeout = resolveWithDefault(layers, ZIM_SETTING_SPECS.zimTimeout, DEFAULT_REQUEST_TIMEOUT_MS);
  const workflowHeap = resolveWithDefault(layers, ZIM_SETTING_SPECS.workflowHeap, DEFAULT_WORKFLOW_HEAP_MB);
  const { secret, source } = readServerSecret(layers);
  return {
    config: {
      appId: appId.value,
      serverSecret: secret,
      baseUrl: baseUrl.value.replace(/\/+$/, ''),
      budgetDbPath: budgetDb.value,
      budgetHeadroomPercent: headroom.value,
      zimTimeoutMs: zimTimeout.value,
      workflowHeapMb: workflowHeap.value,
    },
    sources: {
      appId: appId.source,
      baseUrl: baseUrl.source,
      serverSecret: source,
      budgetDb: budgetDb.source,
      budgetHeadroom: headroom.source,
      zimTimeout: zimTimeout.source,
      workflowHeap: workflowHeap.source,
    },
  };
}

/** ZIM settings from the environment alone (tests, embedding). */
export function loadZimConfig(env: NodeJS.ProcessEnv = process.env): ZimConfig {
  return resolveZimSettings({ flags: {}, env }).config;
}

/**
 * Where and as whom the product calls ZIM. Read from the environment (or a secret file) and validated at the
 * boundary; the ServerSecret is kept out of every message this module produces.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

export interface ZimConfig {
  appId: number;
  serverSecret: string;
  baseUrl: string;
  /** The shared call schedule (src/rate-limit): every worker on this machine that calls this app uses it. */
  budgetDbPath: string;
}

const envSchema = z.object({
  ZIM_APP_ID: z
    .string({ error: 'ZIM_APP_ID is not set: export ZIM_APP_ID=<your AppID from the ZEGO console>' })
    .regex(/^\d+$/, 'ZIM_APP_ID must be a decimal number (the AppID from the ZEGO console)')
    .transform(Number)
    .refine((n) => n > 0 && n <= 0xffffffff, 'ZIM_APP_ID must be a uint32'),
  ZIM_SERVER_SECRET: z.string().optional(),
  ZIM_SERVER_SECRET_FILE: z.string().optional(),
  ZIM_BASE_URL: z
    .url({
      error: 'ZIM_BASE_URL must be a URL such as https://zim-api.zego.im (or your emulator, http://127.0.0.1:PORT)',
    })
    .default('https://zim-api.zego.im'),
  ZIM_MIGRATE_BUDGET_DB: z.string().optional(),
});

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads ZIM settings from env: ZIM_APP_ID, ZIM_SERVER_SECRET or ZIM_SERVER_SECRET_FILE, ZIM_BASE_URL. */
export function loadZimConfig(env: NodeJS.ProcessEnv = process.env): ZimConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    // zod messages name the variable; the secret's value never reaches them because its schema cannot fail.
    throw new ConfigError(parsed.error.issues.map((i) => i.message).join('\n'));
  }
  const e = parsed.data;
  let serverSecret = e.ZIM_SERVER_SECRET;
  if (!serverSecret && e.ZIM_SERVER_SECRET_FILE) {
    try {
      serverSecret = readFileSync(e.ZIM_SERVER_SECRET_FILE, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(
        `Cannot read ZIM_SERVER_SECRET_FILE=${e.ZIM_SERVER_SECRET_FILE}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`
      );
    }
  }
  if (!serverSecret) {
    throw new ConfigError(
      'No ZIM ServerSecret: set ZIM_SERVER_SECRET, or ZIM_SERVER_SECRET_FILE=<path to a file holding it>.'
    );
  }
  if (!/^[0-9a-zA-Z]{32}$/.test(serverSecret)) {
    throw new ConfigError('The ZIM ServerSecret must be the 32-character string from the ZEGO console.');
  }
  return {
    appId: e.ZIM_APP_ID,
    serverSecret,
    baseUrl: e.ZIM_BASE_URL.replace(/\/+$/, ''),
    budgetDbPath: e.ZIM_MIGRATE_BUDGET_DB ?? path.join(homedir(), '.zim-migrate', 'call-budgets.sqlite'),
  };
}

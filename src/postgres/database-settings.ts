/**
 * How a process connects to the shared PostgreSQL database, from the environment (validated with zod here, at the
 * boundary): the URL, the password (in the URL, `ZIM_MIGRATE_DATABASE_PASSWORD`, or a file named by
 * `ZIM_MIGRATE_DATABASE_PASSWORD_FILE`), TLS, pool size and statement timeout. The same secret rules as the ZIM
 * ServerSecret: the password is never printed, and every message names the URL with its password replaced.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { PoolConfig } from 'pg';
import { z } from 'zod';
import { ConfigError } from '../config/config-error';

export const DATABASE_ENV = {
  url: 'ZIM_MIGRATE_DATABASE_URL',
  password: 'ZIM_MIGRATE_DATABASE_PASSWORD',
  passwordFile: 'ZIM_MIGRATE_DATABASE_PASSWORD_FILE',
  tls: 'ZIM_MIGRATE_DATABASE_TLS',
  tlsCaFile: 'ZIM_MIGRATE_DATABASE_TLS_CA_FILE',
  tlsCertFile: 'ZIM_MIGRATE_DATABASE_TLS_CERT_FILE',
  tlsKeyFile: 'ZIM_MIGRATE_DATABASE_TLS_KEY_FILE',
  poolSize: 'ZIM_MIGRATE_DATABASE_POOL_SIZE',
  statementTimeoutMs: 'ZIM_MIGRATE_DATABASE_STATEMENT_TIMEOUT_MS',
} as const;

/** Per worker process: the call schedule keeps one connection busy at most per Action reserving, plus sends. */
export const DEFAULT_POOL_SIZE = 4;
/** A statement of ours takes milliseconds; one stuck behind a lock this long is an incident, not a wait. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;

export type TlsMode = 'disable' | 'require' | 'verify-full';

export interface DatabaseSettings {
  /** The URL without its password: safe to print. */
  safeUrl: string;
  pool: PoolConfig;
  tls: TlsMode;
}

/** `postgres://` or `postgresql://`: what marks a setting (a schedule, a staging location) as a database. */
export const isDatabaseUrl = (s: string) => /^postgres(ql)?:\/\//i.test(s.trim());

/** The URL with any password replaced by `***`; anything that is not a URL is replaced whole. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparseable database URL)';
  }
}

/** A setting that may be a file or a database URL, fit to print. */
export const redactIfUrl = (s: string) => (isDatabaseUrl(s) ? redactUrl(s) : s);

/** Removes every occurrence of the secrets from a message (a driver error may quote the connection string). */
export function redactSecrets(message: string, secrets: readonly (string | undefined)[]): string {
  let out = message;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('***');
  return out;
}

const URL_MESSAGE = 'must be a PostgreSQL URL: postgres://user@host:5432/database';
const integer = (name: string, min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
    z
      .number({ error: `${name} must be a whole number from ${min} to ${max}` })
      .int(`${name} must be a whole number from ${min} to ${max}`)
      .min(min, `${name} must be a whole number from ${min} to ${max}`)
      .max(max, `${name} must be a whole number from ${min} to ${max}`)
  );

const envSchema = z.object({
  [DATABASE_ENV.tls]: z
    .enum(['disable', 'require', 'verify-full'], {
      error: `${DATABASE_ENV.tls} must be disable, require (encrypted, server not verified) or verify-full`,
    })
    .optional(),
  [DATABASE_ENV.poolSize]: integer(DATABASE_ENV.poolSize, 1, 100).optional(),
  [DATABASE_ENV.statementTimeoutMs]: integer(DATABASE_ENV.statementTimeoutMs, 100, 3_600_000).optional(),
});

const nonEmpty = (env: NodeJS.ProcessEnv, name: string) => (env[name] === '' ? undefined : env[name]);

function readSecretFile(name: string, file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `Cannot read the ${what} named by ${name} (${file}): ${(err as NodeJS.ErrnoException).code ?? 'error'}.`
    );
  }
}

/**
 * Connection settings for `url` (a flag's or setting's value), else `ZIM_MIGRATE_DATABASE_URL`. Throws ConfigError
 * naming the variable at fault and never the password.
 */
export function resolveDatabaseSettings(env: NodeJS.ProcessEnv = process.env, url?: string): DatabaseSettings {
  const raw = url ?? nonEmpty(env, DATABASE_ENV.url);
  if (!raw) throw new ConfigError(`${DATABASE_ENV.url} is not set: export ${DATABASE_ENV.url}=postgres://…`);
  let parsed: URL;
  try {
    parsed = new URL(raw.trim());
  } catch {
    throw new ConfigError(`The database URL ${URL_MESSAGE}`);
  }
  if (!isDatabaseUrl(raw) || !parsed.hostname)
    throw new ConfigError(`The database URL ${redactUrl(raw)} ${URL_MESSAGE}`);
  const checked = envSchema.safeParse(env);
  if (!checked.success) throw new ConfigError(checked.error.issues[0]?.message ?? 'invalid database settings');
  const e = checked.data;

  const passwordFile = nonEmpty(env, DATABASE_ENV.passwordFile);
  const password =
    nonEmpty(env, DATABASE_ENV.password) ??
    (passwordFile
      ? readSecretFile(DATABASE_ENV.passwordFile, passwordFile, 'database password file').trim()
      : undefined);
  const urlPassword = decodeURIComponent(parsed.password);
  const sslmode = parsed.searchParams.get('sslmode');
  const tls: TlsMode =
    e[DATABASE_ENV.tls] ?? (sslmode === 'verify-full' ? 'verify-full' : sslmode === 'require' ? 'require' : 'disable');

  let ssl: ConnectionOptions | false = false;
  if (tls !== 'disable') {
    const file = (name: string) => {
      const f = nonEmpty(env, name);
      return f ? readSecretFile(name, f, 'TLS file') : undefined;
    };
    ssl = {
      rejectUnauthorized: tls === 'verify-full',
      ca: file(DATABASE_ENV.tlsCaFile),
      cert: file(DATABASE_ENV.tlsCertFile),
      key: file(DATABASE_ENV.tlsKeyFile),
    };
  }
  return {
    safeUrl: redactUrl(raw),
    tls,
    // Fields, not `connectionString`: pg lets the string's parameters override explicit ones (its sslmode would
    // replace our TLS settings), and a string is what ends up quoted in errors.
    pool: {
      host: parsed.hostname.replace(/^\[|\]$/g, ''),
      port: parsed.port ? Number(parsed.port) : 5432,
      user: decodeURIComponent(parsed.username) || undefined,
      password: password ?? (urlPassword || undefined),
      database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || undefined,
      ssl,
      max: e[DATABASE_ENV.poolSize] ?? DEFAULT_POOL_SIZE,
      statement_timeout: e[DATABASE_ENV.statementTimeoutMs] ?? DEFAULT_STATEMENT_TIMEOUT_MS,
      application_name: 'zim-migrate',
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
    },
  };
}

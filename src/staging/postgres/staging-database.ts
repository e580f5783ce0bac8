/**
 * Connecting to a staged migration in PostgreSQL: the URL names the database and, with `?schema=NAME`, the
 * PostgreSQL schema that holds this migration's staging (default `public`); one schema per staged migration, so one
 * database can hold several. Connection settings (password, TLS, pool size) come from src/postgres/database-settings.ts:
 * the password from the environment or a file, never printed.
 */
import pg from 'pg';
import { z } from 'zod';
import { ConfigError } from '../../config/config-error';
import { openDatabase, type Database } from '../../postgres/database';
import { redactUrl, resolveDatabaseSettings } from '../../postgres/database-settings';

const schemaName = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be lower-case letters, digits and _ (a PostgreSQL identifier)');

/** The PostgreSQL schema a staging URL names. */
export function stagingSchemaOf(url: string): string {
  let given: string | null = null;
  try {
    given = new URL(url.trim()).searchParams.get('schema');
  } catch {
    // resolveDatabaseSettings names what is wrong with the URL
  }
  if (given === null || given === '') return 'public';
  const checked = schemaName.safeParse(given);
  if (!checked.success)
    throw new ConfigError(`The schema in ${redactUrl(url)} ${checked.error.issues[0]?.message ?? 'is invalid'}`);
  return checked.data;
}

/** bigint (int8) columns hold epoch ms, ids and counts, all far below 2^53: read them as numbers. */
const INT8_OID = 20;
const types = {
  getTypeParser: (oid: number, format?: string): unknown =>
    oid === INT8_OID ? Number : pg.types.getTypeParser(oid, (format ?? 'text') as 'text'),
} as pg.CustomTypesConfig;

export interface StagingDatabase {
  db: Database;
  schema: string;
}

/** A pool whose connections see only the staging schema (search_path), so every query names tables plainly. */
export function openStagingDatabase(url: string, env: NodeJS.ProcessEnv = process.env): StagingDatabase {
  const schema = stagingSchemaOf(url);
  const settings = resolveDatabaseSettings(env, url);
  const db = openDatabase({ ...settings, pool: { ...settings.pool, types, options: `-c search_path=${schema}` } });
  return { db, schema };
}

/** Creates the schema if missing; safe when several processes do it at once. */
export async function ensureSchema(db: Database, schema: string): Promise<void> {
  try {
    await db.pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } catch (err) {
    // Two concurrent IF NOT EXISTS may still collide on the catalog's unique index: the schema exists either way.
    if ((err as { code?: string }).code !== '23505') throw err;
  }
}

/**
 * Versioned schema migrations: each component (the call schedule, later staging and the ledger) owns a list of
 * numbered steps, and `zm_schema_version` records which have been applied. Applying is idempotent and safe when
 * several workers start at once: one transaction holds a transaction-level advisory lock while it reads the
 * versions and applies the missing steps, so a second starter waits, then finds them applied. A database whose
 * schema is newer than this code knows is refused rather than used half-understood.
 */
import type pg from 'pg';

export interface SchemaStep {
  version: number;
  /** What the step does, recorded beside its version. */
  name: string;
  sql: string;
}

/** Any fixed number: every zim-migrate process takes the same lock. */
const SCHEMA_LOCK = 0x7a6d_5343; // "zmSC"

export async function applySchema(pool: pg.Pool, component: string, steps: readonly SchemaStep[]): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS zm_schema_version (
      component text NOT NULL, version integer NOT NULL, name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (component, version))`);
    const { rows } = await client.query<{ version: number }>(
      'SELECT version FROM zm_schema_version WHERE component = $1',
      [component]
    );
    const have = new Set(rows.map((r) => r.version));
    const newest = Math.max(0, ...steps.map((s) => s.version));
    const ahead = [...have].filter((v) => v > newest);
    if (ahead.length > 0)
      throw new Error(
        `The database's ${component} schema is at version ${Math.max(...ahead)}, newer than this zim-migrate knows ` +
          `(${newest}): upgrade zim-migrate on this machine.`
      );
    const applied: number[] = [];
    for (const step of [...steps].sort((a, b) => a.version - b.version)) {
      if (have.has(step.version)) continue;
      await client.query(step.sql);
      await client.query('INSERT INTO zm_schema_version (component, version, name) VALUES ($1, $2, $3)', [
        component,
        step.version,
        step.name,
      ]);
      applied.push(step.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * The call gate (activities/call-gate.ts) in PostgreSQL: the flag a migration's workflow closes on pause or cancel
 * and its message imports poll (every 200 ms) just before calling ZIM. In the database every worker shares, a
 * pause reaches workers on every machine within a poll. Staging on PostgreSQL is expected to serve
 * MigrationData.callGateOpen / setCallGate from here; a migration with no row is open.
 */
import type { Database } from '../postgres/database';
import { applySchema } from '../postgres/schema-migrations';
import { CALL_SCHEDULE_COMPONENT, CALL_SCHEDULE_SCHEMA } from './pg-call-schedule-schema';

export class PgCallGate {
  private constructor(private readonly db: Database) {}

  static async open(db: Database): Promise<PgCallGate> {
    await applySchema(db.pool, CALL_SCHEDULE_COMPONENT, CALL_SCHEDULE_SCHEMA);
    return new PgCallGate(db);
  }

  async isOpen(migration: string): Promise<boolean> {
    try {
      const { rows } = await this.db.pool.query<{ open: boolean }>(
        'SELECT open FROM zm_call_gate WHERE migration = $1',
        [migration]
      );
      return rows[0]?.open !== false;
    } catch (err) {
      // eslint-disable-next-line preserve-caught-error -- the driver's error may carry connection settings
      throw new Error(`call gate: ${this.db.describe(err)}`);
    }
  }

  async set(migration: string, open: boolean): Promise<void> {
    try {
      await this.db.pool.query(
        `INSERT INTO zm_call_gate (migration, open) VALUES ($1, $2)
         ON CONFLICT (migration) DO UPDATE SET open = excluded.open, changed_at = clock_timestamp()`,
        [migration, open]
      );
    } catch (err) {
      // eslint-disable-next-line preserve-caught-error -- the driver's error may carry connection settings
      throw new Error(`call gate: ${this.db.describe(err)}`);
    }
  }
}

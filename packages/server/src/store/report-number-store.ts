import type { Kysely } from 'kysely';
import type { StoreOpener } from './store-opener.ts';

/**
 * Readable report numbers (报告编号, migration 0019-report-numbers): one counter per reading
 * institution and year, advanced in the signing transaction (`tx.open(reportNumberStore)`).
 *
 * The counter is one upsert (`insert … on conflict do update set last_value = last_value + 1
 * returning last_value`), so it is safe under concurrency on both databases: SQLite has one
 * writer at a time, and PostgreSQL holds the counter row's lock from the upsert until the
 * signing transaction ends, so a concurrent signer at the same institution waits and then
 * reads the committed value. A signature that rolls back (its conditional update lost, its
 * audit append failed) takes its increment with it: numbers are gapless among issued reports.
 */
export interface ReportNumberCounterTable {
  institution_id: string;
  /** the calendar year of the signature in the deployment's zone */
  year: number;
  /** the last number given out; the next report gets last_value + 1 */
  last_value: number;
}

interface ReportNumberTables {
  report_number_counters: ReportNumberCounterTable;
  reports: { id: string; report_number: string | null };
}

export class ReportNumberStore {
  private readonly db: Kysely<ReportNumberTables>;
  constructor(db: Kysely<ReportNumberTables>) {
    this.db = db;
  }

  /** The report's number, when it has one. */
  async numberOf(reportId: string): Promise<string | null> {
    const row = await this.db.selectFrom('reports').select('report_number').where('id', '=', reportId).executeTakeFirst();
    return row?.report_number ?? null;
  }

  /** The reports with one of these numbers (FHIR DiagnosticReport?identifier=…). */
  async reportIdsWithNumbers(numbers: readonly string[]): Promise<string[]> {
    if (numbers.length === 0) return [];
    const rows = await this.db.selectFrom('reports').select('id').where('report_number', 'in', [...numbers]).execute();
    return rows.map((row) => row.id);
  }

  /** The next sequence number of the institution's year (1 for the year's first report); call in a transaction. */
  async next(institutionId: string, year: number): Promise<number> {
    const row = await this.db
      .insertInto('report_number_counters')
      .values({ institution_id: institutionId, year, last_value: 1 })
      .onConflict((oc) => oc.columns(['institution_id', 'year']).doUpdateSet((eb) => ({ last_value: eb('report_number_counters.last_value', '+', 1) })))
      .returning('last_value')
      .executeTakeFirstOrThrow();
    return Number(row.last_value);
  }

  /** Sets the number of a report that has none; false when it had one already. */
  async assign(reportId: string, reportNumber: string): Promise<boolean> {
    const result = await this.db.updateTable('reports').set({ report_number: reportNumber }).where('id', '=', reportId).where('report_number', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }
}

export const reportNumberStore: StoreOpener<ReportNumberStore, ReportNumberTables> = (db) => new ReportNumberStore(db);

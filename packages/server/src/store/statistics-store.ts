import { sql, type Kysely } from 'kysely';
import { nonEmpty } from './index-store.ts';
import type { Database } from './schema.ts';

export type StudyCountGrouping = 'institution' | 'modality' | 'month';

export interface StudyCount {
  key: string | null;
  studies: number;
  instances: number;
}

/** Aggregates for oversight: counts only, no patient data. */
export class StatisticsStore {
  constructor(private readonly db: Kysely<Database>) {}

  async countStudies(groupBy: StudyCountGrouping, institutionIds: readonly string[] | undefined, from?: string, to?: string): Promise<StudyCount[]> {
    const key = groupBy === 'institution' ? sql`st.institution_id` : groupBy === 'modality' ? sql`st.modalities_in_study` : sql`substr(st.study_date, 1, 6)`;
    const where = [sql`1 = 1`];
    if (institutionIds) where.push(sql`st.institution_id in (${sql.join(nonEmpty(institutionIds))})`);
    if (from) where.push(sql`st.study_date >= ${from}`);
    if (to) where.push(sql`st.study_date <= ${to}`);
    const result = await sql<{ key: string | null; studies: number; instances: number }>`select ${key} as key, count(*) as studies,
        sum((select count(*) from instances i where i.study_instance_uid = st.study_instance_uid)) as instances
      from studies st where ${sql.join(where, sql` and `)} group by ${key} order by ${key}`.execute(this.db);
    return result.rows.map((row) => ({ key: row.key, studies: Number(row.studies), instances: Number(row.instances ?? 0) }));
  }
}

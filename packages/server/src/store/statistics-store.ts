import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { SqlDialectName } from './database.ts';
import { nonEmpty } from './index-store.ts';
import type { Database } from './schema.ts';

export type StudyCountGrouping = 'institution' | 'modality' | 'month';

export interface StudyCount {
  key: string | null;
  studies: number;
  instances: number;
}

/**
 * Aggregates for oversight: counts only, no patient data. They count exams and images: an
 * instance is an image when it has pixel rows (instances.rows > 0), and the modalities of a study
 * are those of its series that hold images. The report SR the platform stores when a report is
 * signed (and PR, KO, DOC objects without pixels) is neither, so a signed CT study stays one CT
 * study of its slices. QIDO's ModalitiesInStudy (studies.modalities_in_study) keeps every
 * modality, SR included, as PS3.18 requires.
 */
export class StatisticsStore {
  private readonly db: Kysely<Database>;
  private readonly dialect: SqlDialectName;
  constructor(
    db: Kysely<Database>,
    dialect: SqlDialectName,
  ) {
    this.db = db;
    this.dialect = dialect;
  }

  async countStudies(groupBy: StudyCountGrouping, institutionIds: readonly string[] | undefined, from?: string, to?: string): Promise<StudyCount[]> {
    const key = groupBy === 'institution' ? sql`st.institution_id` : groupBy === 'modality' ? this.imageModalitiesOfStudy() : sql`substr(st.study_date, 1, 6)`;
    const where = [sql`1 = 1`];
    if (institutionIds) where.push(sql`st.institution_id in (${sql.join(nonEmpty(institutionIds))})`);
    if (from) where.push(sql`st.study_date >= ${from}`);
    if (to) where.push(sql`st.study_date <= ${to}`);
    const result = await sql<{ key: string | null; studies: number; instances: number }>`select t.key as key, count(*) as studies, sum(t.images) as instances
      from (select ${key} as key,
          (select count(*) from instances i where i.study_instance_uid = st.study_instance_uid and i.rows > 0) as images
        from studies st where ${sql.join(where, sql` and `)}) t
      group by t.key order by t.key`.execute(this.db);
    return result.rows.map((row) => ({ key: row.key, studies: Number(row.studies), instances: Number(row.instances ?? 0) }));
  }

  /** `CT`, `CT\PT`: the distinct modalities of the study's series that hold images, sorted. */
  private imageModalitiesOfStudy(): RawBuilder<string | null> {
    const imageSeries = sql`se.study_instance_uid = st.study_instance_uid and se.modality is not null
      and exists (select 1 from instances i where i.series_instance_uid = se.series_instance_uid and i.rows > 0)`;
    if (this.dialect === 'postgres') return sql<string | null>`(select string_agg(distinct se.modality, ${'\\'} order by se.modality) from series se where ${imageSeries})`;
    // SQLite's group_concat follows the order of the rows it is given
    return sql<string | null>`(select group_concat(m, ${'\\'}) from (select distinct se.modality as m from series se where ${imageSeries} order by se.modality))`;
  }
}

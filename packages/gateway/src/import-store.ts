/**
 * PACS import jobs on disk: a gateway-owned table in the cache's SQLite database, beside
 * gateway_queue (created with `create table if not exists`; the server's migration set is
 * untouched). One row per job; its studies and their C-MOVE progress as JSON. Written on
 * every state change and at most every PROGRESS_SAVE_MS while a C-MOVE reports progress, so
 * after a restart /status shows the job as it was and an unfinished one can resume.
 */
import { sql, type Kysely } from 'kysely';
import type { DicomNodeConfig } from './config.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export interface ImportStudy {
  studyInstanceUid: string;
  patientId?: string;
  studyDate?: string;
  /** NumberOfStudyRelatedInstances from the PACS, when it says */
  expectedInstances?: number;
  state: 'waiting' | 'moving' | 'moved' | 'failed';
  completed: number;
  failed: number;
  warning: number;
  remaining?: number;
  error?: string;
}

export interface ImportJob {
  id: string;
  pacs: DicomNodeConfig;
  query: Record<string, string>;
  state: 'querying' | 'moving' | 'done' | 'failed';
  startedAt: string;
  finishedAt?: string;
  error?: string;
  /** how many times the job was picked up again after a gateway restart */
  resumed?: number;
  studies: ImportStudy[];
}

interface ImportRow {
  id: string;
  pacs: string;
  query: string;
  state: ImportJob['state'];
  started_at: string;
  finished_at: string | null;
  error: string | null;
  resumed: number;
  studies: string;
}

const MIGRATIONS: readonly string[] = [
  `create table if not exists gateway_import_jobs (
     id text primary key,
     pacs text not null,
     query text not null,
     state text not null,
     started_at text not null,
     finished_at text,
     error text,
     resumed integer not null default 0,
     studies text not null
   )`,
];

export class ImportStore {
  private readonly db: AnyDb;
  constructor(db: AnyDb) {
    this.db = db;
  }

  async migrate(): Promise<void> {
    for (const statement of MIGRATIONS) await sql.raw(statement).execute(this.db);
  }

  async save(job: ImportJob): Promise<void> {
    await sql`insert into gateway_import_jobs (id, pacs, query, state, started_at, finished_at, error, resumed, studies)
      values (${job.id}, ${JSON.stringify(job.pacs)}, ${JSON.stringify(job.query)}, ${job.state}, ${job.startedAt}, ${job.finishedAt ?? null}, ${job.error ?? null}, ${job.resumed ?? 0}, ${JSON.stringify(job.studies)})
      on conflict (id) do update set state = excluded.state, finished_at = excluded.finished_at, error = excluded.error, resumed = excluded.resumed, studies = excluded.studies`.execute(this.db);
  }

  /** Every job, oldest first. */
  async load(): Promise<ImportJob[]> {
    const rows = await sql<ImportRow>`select * from gateway_import_jobs order by started_at, id`.execute(this.db);
    return rows.rows.map((r) => ({
      id: r.id,
      pacs: JSON.parse(r.pacs) as DicomNodeConfig,
      query: JSON.parse(r.query) as Record<string, string>,
      state: r.state,
      startedAt: r.started_at,
      ...(r.finished_at ? { finishedAt: r.finished_at } : {}),
      ...(r.error ? { error: r.error } : {}),
      ...(Number(r.resumed) > 0 ? { resumed: Number(r.resumed) } : {}),
      studies: JSON.parse(r.studies) as ImportStudy[],
    }));
  }
}

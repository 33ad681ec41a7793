import type { Kysely } from 'kysely';
import type { ReportTemplateTable } from './schema.ts';
import type { StoreOpener } from './store-opener.ts';

/**
 * Reporting productivity (migration 0017-report-productivity): report templates with their
 * scope and owner, the phrase library (常用语) and a report's attachments (measurements and
 * key images). Opened as a module store (`archive.stores.open(productivityStore)`,
 * `tx.open(productivityStore)`); the scope rules are in productivity/ and reports/.
 */
export interface ReportPhraseTable {
  id: string;
  /** 'system' (the starter set), 'institution', 'personal' */
  scope: string;
  institution_id: string | null;
  owner: string | null;
  group_name: string;
  /** a short abbreviation typed in the report (e.g. "wjyc"), optional */
  trigger: string | null;
  text: string;
  created_at: string;
  updated_at: string;
  updated_by: string | null;
}

export interface ReportAttachmentTable {
  id: string;
  report_id: string;
  /** 'measurement' or 'key-image' */
  kind: string;
  position: number;
  study_instance_uid: string;
  series_instance_uid: string;
  sop_instance_uid: string;
  frame: number;
  series_number: number | null;
  instance_number: number | null;
  /** a measurement's tool: length, angle, rectangleRoi, ellipseRoi */
  tool: string | null;
  value: number | null;
  unit: string | null;
  /** the measurement as inserted ("长径 23.4 mm（序列 2，图像 45）"), a key image's note */
  text: string;
  created_at: string;
  created_by: string;
}

interface ProductivityTables {
  report_templates: ReportTemplateTable;
  report_phrases: ReportPhraseTable;
  report_attachments: ReportAttachmentTable;
}

/** Which rows a caller may see: the shared ones, the institution's, and their own. */
export interface ScopeFilter {
  institutionId: string;
  owner: string;
}

export class ProductivityStore {
  private readonly db: Kysely<ProductivityTables>;
  constructor(db: Kysely<ProductivityTables>) {
    this.db = db;
  }

  // templates

  async findTemplate(id: string): Promise<ReportTemplateTable | undefined> {
    return this.db.selectFrom('report_templates').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insertTemplate(row: ReportTemplateTable): Promise<void> {
    await this.db.insertInto('report_templates').values(row).execute();
  }

  async updateTemplate(id: string, changes: Partial<Pick<ReportTemplateTable, 'modality' | 'body_part' | 'name' | 'findings' | 'impression' | 'updated_at' | 'updated_by'>>): Promise<boolean> {
    const result = await this.db.updateTable('report_templates').set(changes).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deleteTemplate(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('report_templates').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  // phrases

  async listPhrases(scope: ScopeFilter): Promise<ReportPhraseTable[]> {
    return this.db
      .selectFrom('report_phrases')
      .selectAll()
      .where((eb) => eb.or([eb('scope', '=', 'system'), eb.and([eb('scope', '=', 'institution'), eb('institution_id', '=', scope.institutionId)]), eb.and([eb('scope', '=', 'personal'), eb('owner', '=', scope.owner)])]))
      .orderBy('group_name')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  async findPhrase(id: string): Promise<ReportPhraseTable | undefined> {
    return this.db.selectFrom('report_phrases').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insertPhrases(rows: readonly ReportPhraseTable[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.insertInto('report_phrases').values([...rows]).onConflict((oc) => oc.column('id').doNothing()).execute();
  }

  async updatePhrase(id: string, changes: Partial<Pick<ReportPhraseTable, 'group_name' | 'trigger' | 'text' | 'updated_at' | 'updated_by'>>): Promise<boolean> {
    const result = await this.db.updateTable('report_phrases').set(changes).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deletePhrase(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('report_phrases').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  // attachments

  async attachments(reportId: string): Promise<ReportAttachmentTable[]> {
    return this.db.selectFrom('report_attachments').selectAll().where('report_id', '=', reportId).orderBy('kind').orderBy('position').execute();
  }

  /** Replaces one kind of a report's attachments with these rows (call it in a transaction). */
  async replaceAttachments(reportId: string, kind: string, rows: readonly ReportAttachmentTable[]): Promise<void> {
    await this.db.deleteFrom('report_attachments').where('report_id', '=', reportId).where('kind', '=', kind).execute();
    if (rows.length > 0) await this.db.insertInto('report_attachments').values([...rows]).execute();
  }
}

export const productivityStore: StoreOpener<ProductivityStore, ProductivityTables> = (db) => new ProductivityStore(db);
